// Package joined splits an error made by errors.Join (or any error with
// Unwrap() []error) back into its parts, for reports that list each
// problem on a line of its own.
package joined

// Errors returns the errors err joins, err alone when it joins none, and
// nil for nil.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
