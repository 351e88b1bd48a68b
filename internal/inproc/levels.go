package inproc

import "github.com/rs/zerolog"

// ZerologLevel maps Apache's APLOG levels (0 emerg ... 3 err, 4 warning,
// 5 notice, 6 info, 7 debug, 8+ trace), which the request record carries,
// to the logger's level: lines the host would drop are never formatted.
func ZerologLevel(aplog uint32) zerolog.Level {
	switch {
	case aplog >= 8:
		return zerolog.TraceLevel
	case aplog == 7:
		return zerolog.DebugLevel
	case aplog == 6:
		return zerolog.InfoLevel
	case aplog >= 4:
		return zerolog.WarnLevel
	case aplog == 3:
		return zerolog.ErrorLevel
	}
	return zerolog.FatalLevel
}

// AplogLevel is the APLOG level for a line the logger wrote at l.
func AplogLevel(l zerolog.Level) int {
	switch l {
	case zerolog.TraceLevel:
		return 8
	case zerolog.DebugLevel:
		return 7
	case zerolog.InfoLevel:
		return 6
	case zerolog.WarnLevel:
		return 4
	case zerolog.ErrorLevel:
		return 3
	}
	return 2
}
