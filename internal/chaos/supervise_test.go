package chaos

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the supervised child: with CHAOS_CHILD set it
// appends its pid to the file CHAOS_STARTS names and then behaves as
// CHAOS_CHILD says.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CHAOS_CHILD"); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func runChild(mode string) int {
	// Catch SIGTERM before announcing the start, so that a test that
	// cancels on the announcement reaches the handler.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)

	f, err := os.OpenFile(os.Getenv("CHAOS_STARTS"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 3
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()

	switch mode {
	case "exit-now":
		return 1
	case "fail-on-term":
		<-signals
		return 1
	default: // "drain"
		<-signals
		return 0
	}
}

func childConfig(t *testing.T, mode string) (SuperviseConfig, string) {
	t.Helper()
	binary, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	starts := filepath.Join(t.TempDir(), "starts")
	return SuperviseConfig{
		Binary:      binary,
		Args:        []string{"-test.run=^$"},
		Env:         []string{"CHAOS_CHILD=" + mode, "CHAOS_STARTS=" + starts},
		MinDelay:    20 * time.Millisecond,
		MaxDelay:    80 * time.Millisecond,
		StopTimeout: 10 * time.Second,
	}, starts
}

func countStarts(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read starts: %v", err)
	}
	return len(strings.Fields(string(data)))
}

func TestSuperviseKillsAndRestarts(t *testing.T) {
	cfg, starts := childConfig(t, "drain")
	cfg.Kills = 3
	cfg.Seed = 9

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		result Result
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		result, err := Supervise(ctx, cfg)
		done <- outcome{result, err}
	}()

	// The fourth start is the one that runs until ctx ends.
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(starts)
		if len(strings.Fields(string(data))) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child started %d times within 30 s, want 4", len(strings.Fields(string(data))))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	got := <-done

	if got.err != nil {
		t.Errorf("Supervise: %v", got.err)
	}
	if got.result.Kills != 3 {
		t.Errorf("Kills = %d, want 3", got.result.Kills)
	}
	if got.result.Restarts != 3 {
		t.Errorf("Restarts = %d, want 3", got.result.Restarts)
	}
	if n := countStarts(t, starts); n != 4 {
		t.Errorf("child started %d times, want 4", n)
	}
}

func TestSuperviseReportsChildFailures(t *testing.T) {
	tests := []struct {
		mode  string
		kills int
	}{
		{"exit-now", 2},     // exits before its first kill
		{"fail-on-term", 0}, // fails its drain after SIGTERM
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg, starts := childConfig(t, tt.mode)
			cfg.Kills = tt.kills
			cfg.MinDelay, cfg.MaxDelay = 5*time.Second, 5*time.Second

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tt.mode == "fail-on-term" {
				go func() {
					for countStartsQuiet(starts) < 1 {
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
			}
			result, err := Supervise(ctx, cfg)
			if err == nil {
				t.Fatal("Supervise returned nil error")
			}
			if result.Kills != 0 {
				t.Errorf("Kills = %d, want 0", result.Kills)
			}
		})
	}
}

func countStartsQuiet(path string) int {
	data, _ := os.ReadFile(path)
	return len(strings.Fields(string(data)))
}

func TestSuperviseValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  SuperviseConfig
	}{
		{"no binary", SuperviseConfig{}},
		{"negative kills", SuperviseConfig{Binary: "/bin/true", Kills: -1}},
		{"window reversed", SuperviseConfig{Binary: "/bin/true", MinDelay: time.Second, MaxDelay: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Supervise(context.Background(), tt.cfg); err == nil {
				t.Error("Supervise returned nil error")
			}
		})
	}
}
