package edit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"linux/amd65", "linux/amd64", 1},
		{"kitten", "sitting", 3},
		{"darwn", "darwin", 1},
		{"MAGEPACK_PLATFROMS", "MAGEPACK_PLATFORMS", 2},
	}
	for _, tt := range tests {
		t.Run(tt.a+"→"+tt.b, func(t *testing.T) {
			assert.Equal(t, tt.want, Distance(tt.a, tt.b))
		})
	}
}
