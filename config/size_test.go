package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/anyhost/anyhost/config"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"123", 123},
		{"1048576", 1 << 20},
		{"64KiB", 64 << 10},
		{"10MiB", 10 << 20},
		{"1GiB", 1 << 30},
		{" 64 KiB ", 64 << 10},
		{"8589934591GiB", (1<<33 - 1) << 30}, // the largest GiB count that fits
		{"9223372036854775807", 1<<63 - 1},
	}
	for _, tc := range good {
		n, err := config.ParseSize(tc.in)
		if assert.NoError(t, err, "%q", tc.in) {
			assert.Equal(t, tc.want, n, "%q", tc.in)
		}
	}
	bad := []string{
		"", "KiB", "ten", "1.5MiB", "-1", "-1KiB", "10 TiB", "10B", "10 kib", "1 2",
		"9223372036854775808",    // > MaxInt64
		"8589934592GiB",          // 2^63: wraps to MinInt64
		"17179869184GiB",         // 2^64: wraps to 0
		"17179869185GiB",         // 2^64 + 2^30: wraps to 1 GiB
		"9007199254740993KiB",    // 2^53+1 KiB: wraps
		"9223372036854775807KiB", // MaxInt64 KiB
	}
	for _, in := range bad {
		n, err := config.ParseSize(in)
		assert.Error(t, err, "%q gave %d", in, n)
		if err != nil {
			assert.Contains(t, err.Error(), "is not a size", "%q", in)
		}
	}
	// Units the README does not list are refused with the one to write.
	for in, want := range map[string]string{"10MB": `"10MiB"`, "2KB": `"2KiB"`, "4GB": `"4GiB"`, "5K": `"5KiB"`, "6m": `"6MiB"`, "64 kB": `"64KiB"`} {
		_, err := config.ParseSize(in)
		if assert.Error(t, err, "%q", in) {
			assert.Contains(t, err.Error(), "write "+want, "%q", in)
		}
	}
}
