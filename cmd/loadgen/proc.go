package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// errProcFormat reports /proc content that does not parse.
var errProcFormat = errors.New("proc: unexpected format")

// procSample is what loadgen reads about one process.
type procSample struct {
	CPU time.Duration // utime + stime
	RSS int64         // VmRSS, bytes
	HWM int64         // VmHWM (peak RSS), bytes
}

// parseStatCPU returns utime+stime from the content of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted after the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errProcFormat
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errProcFormat
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errProcFormat
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// parseStatusMem returns VmRSS and VmHWM, in bytes, from the content of
// /proc/<pid>/status.
func parseStatusMem(b []byte) (rss, hwm int64, err error) {
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := parseKB(val)
		if err != nil {
			return 0, 0, fmt.Errorf("proc: %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss, haveRSS = n, true
		} else {
			hwm, haveHWM = n, true
		}
	}
	if !haveRSS || !haveHWM {
		return 0, 0, errProcFormat
	}
	return rss, hwm, nil
}

// parseKB parses "   1234 kB" into bytes.
func parseKB(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, errProcFormat
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, errProcFormat
	}
	return n << 10, nil
}

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("proc: %w", err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("proc: %w", err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procSample{}, err
	}
	rss, hwm, err := parseStatusMem(status)
	if err != nil {
		return procSample{}, err
	}
	return procSample{CPU: cpu, RSS: rss, HWM: hwm}, nil
}

// readProcs samples every pid; a pid of 0 (unknown) gives a zero sample.
func readProcs(pids []int) []procSample {
	out := make([]procSample, len(pids))
	for i, pid := range pids {
		if pid > 0 {
			out[i], _ = readProc(pid)
		}
	}
	return out
}

// cpuDelta sums the CPU time spent by every process between two samples.
func cpuDelta(before, after []procSample) time.Duration {
	var d time.Duration
	for i := range after {
		if i < len(before) {
			d += after[i].CPU - before[i].CPU
		}
	}
	return d
}

// machineInfo describes the host for the report: CPU model, cores, memory.
func machineInfo() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		model = cpuModel(b)
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if total, ok := memTotal(b); ok {
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(total)/(1<<30))
		}
	}
	return fmt.Sprintf("%s, %d cores%s", model, runtime.NumCPU(), mem)
}

// cpuModel returns the first "model name" of /proc/cpuinfo content.
func cpuModel(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// memTotal returns MemTotal, in bytes, from /proc/meminfo content.
func memTotal(b []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == "MemTotal" {
			n, err := parseKB(v)
			return n, err == nil
		}
	}
	return 0, false
}

// parseLoadAvg returns the 1-minute load average from /proc/loadavg
// content ("0.52 0.58 0.59 2/1234 5678").
func parseLoadAvg(b []byte) (float64, error) {
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, errProcFormat
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, errProcFormat
	}
	return v, nil
}

// loadAvg returns the host's 1-minute load average, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, err := parseLoadAvg(b)
	if err != nil {
		return -1
	}
	return v
}
