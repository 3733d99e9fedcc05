// Package cputime reads how much CPU time processes have used, for the
// benchmarks that report it beside wall time.
package cputime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const tick = 10 * time.Millisecond

// Self returns the CPU time, user and system, this process has used.
func Self() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Of returns the command name of process pid and the CPU time, user and
// system, it has used, from /proc/PID/stat (Linux), in steps of 10 ms:
// read it over enough work.
func Of(pid int) (command string, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	// The command is in parentheses and may hold spaces and parentheses:
	// the fields after the last ')' start with the state (field 3), so
	// utime and stime (fields 14 and 15) are the 12th and 13th of them.
	stat := string(b)
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("/proc/%d/stat: no command in %q", pid, stat)
	}
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("/proc/%d/stat: %d fields after the command, want 13 or more", pid, len(f))
	}
	user, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("/proc/%d/stat: utime: %w", pid, err)
	}
	sys, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("/proc/%d/stat: stime: %w", pid, err)
	}
	return stat[open+1 : end], time.Duration(user+sys) * tick, nil
}
