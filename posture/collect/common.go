package collect

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// agentCollector reports the agent's own version.
func agentCollector() Collector {
	return newCollector(func(_ context.Context, in Input) []Signal {
		v, err := cleanValue("agent version", in.AgentVersion)
		if err != nil {
			return []Signal{in.failure(AgentVersion, "agent", err)}
		}
		return []Signal{in.value(AgentVersion, "agent", v)}
	}, AgentVersion)
}

// diskFreeCollector reports the free bytes of the volume holding path.
func diskFreeCollector(path string) Collector {
	return newCollector(func(_ context.Context, in Input) []Signal {
		source := "statfs " + path
		if in.DiskFree == nil {
			return []Signal{in.failure(DiskFreeBytes, source, fmt.Errorf("no disk-free call: %w", ErrNotAvailable))}
		}
		free, err := in.DiskFree(path)
		if err != nil {
			return []Signal{in.failure(DiskFreeBytes, source, err)}
		}
		if free > math.MaxInt64 {
			return []Signal{in.failure(DiskFreeBytes, source, fmt.Errorf("free space %d out of range", free))}
		}
		return []Signal{in.value(DiskFreeBytes, source, int64(free))}
	}, DiskFreeBytes)
}

// parseExit parses the output of a command that may answer through a
// non-zero exit (firewall-cmd, spctl, mokutil): its stdout, or its stderr
// when stdout is empty. When that text is not understood, the command's own
// error is returned.
func parseExit[T any](out []byte, err error, parse func([]byte) (T, error)) (T, error) {
	var zero T
	if err == nil {
		return parse(out)
	}
	var ce *CommandError
	if !errors.As(err, &ce) || errors.Is(err, ErrOutputTooLarge) {
		return zero, err
	}
	text := out
	if len(text) == 0 {
		text = ce.Stderr
	}
	if len(text) == 0 {
		return zero, err
	}
	v, perr := parse(text)
	if perr != nil {
		return zero, err
	}
	return v, nil
}

// updateSignals turns an Updates summary into the three update signals.
func updateSignals(in Input, source string, u Updates) []Signal {
	var out []Signal
	if u.Security >= 0 {
		out = append(out, in.value(UpdatesSecurityPending, source, int64(u.Security)))
	} else {
		out = append(out, in.failure(UpdatesSecurityPending, source, fmt.Errorf("this listing does not classify updates")))
	}
	if u.Pending >= 0 {
		out = append(out, in.value(UpdatesPending, source, int64(u.Pending)))
	} else {
		out = append(out, in.failure(UpdatesPending, source, fmt.Errorf("this tool lists security advisories only")))
	}
	switch {
	case u.Security < 0:
		out = append(out, in.failure(UpdatesSecurityOldestDays, source, fmt.Errorf("this listing does not classify updates")))
	case u.Security == 0:
		out = append(out, in.value(UpdatesSecurityOldestDays, source, int64(0)))
	case !u.OldestSecurity.IsZero():
		days := int64(in.Clock().Sub(u.OldestSecurity).Hours() / 24)
		if days < 0 {
			days = 0
		}
		out = append(out, in.value(UpdatesSecurityOldestDays, source, days))
	default:
		out = append(out, in.failure(UpdatesSecurityOldestDays, source, fmt.Errorf("this tool does not date pending updates")))
	}
	return out
}
