package wrk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Captured from wrk 4.1.0 (Debian 12 package) against barehello on 127.0.0.1.

// A clean run: wrk -t2 -c32 -d2s --latency http://127.0.0.1:18080/hello
const wrkSampleOK = `Running 2s test @ http://127.0.0.1:18080/hello
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.14ms    1.40ms  11.96ms   87.00%
    Req/Sec    20.19k     3.41k   28.63k    65.00%
  Latency Distribution
     50%  671.00us
     75%    1.52ms
     90%    2.97ms
     99%    6.35ms
  80408 requests in 2.01s, 9.36MB read
Requests/sec:  40055.23
Transfer/sec:      4.66MB
`

// Every response a 404: wrk -t2 -c32 -d1s --latency http://127.0.0.1:18080/nope
const wrkSample404 = `Running 1s test @ http://127.0.0.1:18080/nope
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.24ms    1.59ms  14.77ms   86.39%
    Req/Sec    20.36k     3.22k   27.25k    65.00%
  Latency Distribution
     50%  671.00us
     75%    1.72ms
     90%    3.43ms
     99%    6.98ms
  40600 requests in 1.01s, 6.81MB read
  Non-2xx or 3xx responses: 40600
Requests/sec:  40390.66
Transfer/sec:      6.78MB
`

// The server was killed 1 s into a 2 s run.
const wrkSampleSocketErrors = `Running 2s test @ http://127.0.0.1:18081/hello
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.93ms    1.41ms  15.19ms   86.82%
    Req/Sec    20.47k     2.94k   24.61k    55.00%
  Latency Distribution
     50%  299.00us
     75%    1.19ms
     90%    2.84ms
     99%    6.40ms
  40825 requests in 2.10s, 4.75MB read
  Socket errors: connect 0, read 39, write 71626, timeout 0
Requests/sec:  19404.84
Transfer/sec:      2.26MB
`

// wrk's stdout when nothing listens (the message goes to stderr, stdout is empty).
const wrkSampleRefused = ``

func TestParseClean(t *testing.T) {
	r, err := Parse(wrkSampleOK)
	require.NoError(t, err)
	assert.Equal(t, int64(80408), r.Requests)
	assert.Equal(t, 2010*time.Millisecond, r.Elapsed)
	assert.InDelta(t, 40055.23, r.RequestsPerSec, 1e-9)
	assert.Equal(t, 1140*time.Microsecond, r.LatencyAvg)
	assert.Equal(t, 11960*time.Microsecond, r.LatencyMax)
	assert.Equal(t, map[string]time.Duration{
		"50%": 671 * time.Microsecond,
		"75%": 1520 * time.Microsecond,
		"90%": 2970 * time.Microsecond,
		"99%": 6350 * time.Microsecond,
	}, r.Percentiles)
	assert.Equal(t, 6350*time.Microsecond, r.P99())
	assert.Equal(t, SocketErrors{}, r.SocketErrors)
	assert.Zero(t, r.Non2xx3xx)
	assert.False(t, r.Errors())
}

func TestParseNon2xx(t *testing.T) {
	r, err := Parse(wrkSample404)
	require.NoError(t, err)
	assert.Equal(t, int64(40600), r.Requests)
	assert.Equal(t, int64(40600), r.Non2xx3xx)
	assert.Equal(t, 6980*time.Microsecond, r.P99())
	assert.True(t, r.Errors())
}

func TestParseSocketErrors(t *testing.T) {
	r, err := Parse(wrkSampleSocketErrors)
	require.NoError(t, err)
	assert.Equal(t, int64(40825), r.Requests)
	assert.Equal(t, SocketErrors{Connect: 0, Read: 39, Write: 71626, Timeout: 0}, r.SocketErrors)
	assert.Equal(t, int64(71665), r.SocketErrors.Total())
	assert.Zero(t, r.Non2xx3xx)
	assert.True(t, r.Errors())
}

func TestParseNoSummary(t *testing.T) {
	_, err := Parse(wrkSampleRefused)
	require.Error(t, err)
	_, err = Parse("Running 1s test @ http://127.0.0.1:1/\n  2 threads and 32 connections\n")
	require.Error(t, err)
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"671.00us": 671 * time.Microsecond,
		"1.52ms":   1520 * time.Microsecond,
		"2.01s":    2010 * time.Millisecond,
		"1.00m":    time.Minute,
		"2.00h":    2 * time.Hour,
	} {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "ms", "1.5x", "abc"} {
		_, err := parseDuration(bad)
		assert.Error(t, err, bad)
	}
}

func TestWrkArgs(t *testing.T) {
	assert.Equal(t, []string{"-t2", "-c32", "-d5s", "--latency", "http://x/hello"},
		Args(2, 32, 5*time.Second, "http://x/hello"))
}

func TestWrkErrorText(t *testing.T) {
	r, err := Parse(wrkSampleSocketErrors)
	require.NoError(t, err)
	assert.Equal(t, "socket errors: connect 0, read 39, write 71626, timeout 0", r.ErrorText())
	r, err = Parse(wrkSample404)
	require.NoError(t, err)
	assert.Equal(t, "40600 of 40600 responses non-2xx/3xx", r.ErrorText())
}
