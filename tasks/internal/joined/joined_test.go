package joined

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrors(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	assert.Nil(t, Errors(nil))
	assert.Equal(t, []error{a}, Errors(a))
	assert.Equal(t, []error{a, b}, Errors(errors.Join(a, b)))
	wrapped := fmt.Errorf("context: %w", errors.Join(a, b))
	assert.Equal(t, []error{wrapped}, Errors(wrapped), "a wrapped join is one error: its message has the context")
}
