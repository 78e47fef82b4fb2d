package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Machine describes where Run ran.
type Machine struct {
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	// MemoryBytes is MemTotal of /proc/meminfo, zero where it is missing.
	MemoryBytes int64  `json:"memory_bytes"`
	GoVersion   string `json:"go_version"`
	PostgreSQL  string `json:"postgresql"`
}

var errNoProcInfo = errors.New("field not found")

func describeMachine(ctx context.Context, pool *pgxpool.Pool) (Machine, error) {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	m.CPUModel, _ = cpuModel()
	m.MemoryBytes, _ = memTotal()
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&m.PostgreSQL); err != nil {
		return m, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return m, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() (string, error) {
	value, err := procField("/proc/cpuinfo", "model name")
	return value, err
}

// memTotal returns MemTotal of /proc/meminfo in bytes.
func memTotal() (int64, error) {
	value, err := procField("/proc/meminfo", "MemTotal")
	if err != nil {
		return 0, err
	}
	kib, err := strconv.ParseInt(strings.TrimSuffix(value, " kB"), 10, 64)
	if err != nil {
		return 0, err
	}
	return kib * 1024, nil
}

// procField returns the value of the first "name: value" line of path.
func procField(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value), nil
		}
	}
	if err := scanner.Err(); err != nil {
		return "", err
	}
	return "", errNoProcInfo
}
