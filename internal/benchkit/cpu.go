package benchkit

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// GroupCPU is the CPU time (user + system) used so far by process pid and, when pid
// leads a process group (as internal/devstack starts processes), every live process of
// the group and the children it has reaped (a server that forks, such as PostgreSQL, or
// a JVM behind a script). Linux only (/proc).
func GroupCPU(pid int) (time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, fmt.Errorf("list /proc: %w", err)
	}
	var ticks int64
	found := false
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process exited meanwhile
		}
		st, err := parseStat(string(data))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case st.pid == pid:
			found = true
			ticks += st.utime + st.stime + st.cutime + st.cstime
		case st.pgrp == pid:
			ticks += st.utime + st.stime
		}
	}
	if !found {
		return 0, fmt.Errorf("no process %d in /proc", pid)
	}
	return time.Duration(ticks) * clockTick, nil
}

// procStat is what GroupCPU reads of /proc/PID/stat.
type procStat struct {
	pid, pgrp                    int
	utime, stime, cutime, cstime int64
}

// parseStat parses a /proc/PID/stat line: "pid (comm) state ppid pgrp ... utime stime
// cutime cstime ..." (fields 14-17); comm may hold spaces and parentheses, so the fields
// are counted from its last ')'.
func parseStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("not a stat line: %q", line)
	}
	var st procStat
	var err error
	if st.pid, err = strconv.Atoi(strings.TrimSpace(line[:open])); err != nil {
		return procStat{}, fmt.Errorf("stat pid: %w", err)
	}
	f := strings.Fields(line[end+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat has %d fields after comm, want at least 15", len(f))
	}
	if st.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, fmt.Errorf("stat pgrp: %w", err)
	}
	for i, dst := range []*int64{&st.utime, &st.stime, &st.cutime, &st.cstime} {
		if *dst, err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", 14+i, err)
		}
	}
	return st, nil
}

// CPUUse is the CPU time each named process used during one phase.
type CPUUse struct {
	Elapsed time.Duration
	ByName  map[string]time.Duration
	// Machine is the CPU time every process of the machine used (0 when /proc/stat
	// cannot be read): on a shared machine, what the others took.
	Machine time.Duration
}

// MachineCPU is the CPU time (user, nice, system, irq, softirq) of all the machine's
// CPUs since boot, from the first line of /proc/stat.
func MachineCPU() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q is not the cpu total", line)
	}
	var ticks int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat cpu field %d: %w", i+1, err)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice: not idle,
		// iowait, steal (another VM's) nor guest (already in user).
		if i != 3 && i != 4 && i < 7 {
			ticks += n
		}
	}
	return time.Duration(ticks) * clockTick, nil
}

// CPUMeter samples the CPU time of named processes (by pid, GroupCPU) to tell what a
// phase of a benchmark spent where.
type CPUMeter struct {
	pids    map[string]int
	start   map[string]time.Duration
	machine time.Duration
	at      time.Time
}

// NewCPUMeter meters the processes of pids (name → pid) from now on.
func NewCPUMeter(pids map[string]int) *CPUMeter {
	m := &CPUMeter{pids: pids}
	m.Reset()
	return m
}

func (m *CPUMeter) sample() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range m.pids {
		if d, err := GroupCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// Reset starts a new phase.
func (m *CPUMeter) Reset() {
	m.start, m.at = m.sample(), time.Now()
	m.machine, _ = MachineCPU()
}

// Since is the CPU time used by each process since the last Reset (a process that
// could not be read at either end is left out).
func (m *CPUMeter) Since() CPUUse {
	now := m.sample()
	u := CPUUse{Elapsed: time.Since(m.at), ByName: map[string]time.Duration{}}
	if d, err := MachineCPU(); err == nil && m.machine > 0 {
		u.Machine = d - m.machine
	}
	for name, d := range now {
		if s, ok := m.start[name]; ok {
			u.ByName[name] = d - s
		}
	}
	return u
}

// String lists the processes by CPU use, highest first, each as name, percent of one
// core over the phase ("worker 83%"), then their total and the whole machine's.
func (u CPUUse) String() string {
	type row struct {
		name string
		d    time.Duration
	}
	var rows []row
	var total time.Duration
	for n, d := range u.ByName {
		rows = append(rows, row{n, d})
		total += d
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.d != b.d {
			return cmp.Compare(b.d, a.d)
		}
		return strings.Compare(a.name, b.name)
	})
	pct := func(d time.Duration) float64 {
		if u.Elapsed <= 0 {
			return 0
		}
		return 100 * d.Seconds() / u.Elapsed.Seconds()
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %.0f%%, ", r.name, pct(r.d))
	}
	fmt.Fprintf(&b, "total %.0f%% of one core over %s", pct(total), u.Elapsed.Round(100*time.Millisecond))
	if u.Machine > 0 {
		fmt.Fprintf(&b, " (the whole machine: %.0f%%)", pct(u.Machine))
	}
	return b.String()
}
