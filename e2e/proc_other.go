//go:build !linux && !wasm

package e2e

import "os/exec"

func setDeathSignal(*exec.Cmd) {}

func killByUserDataDir(string) int { return 0 }

func cpuTimes() (busy, all int64) { return 0, 0 }
