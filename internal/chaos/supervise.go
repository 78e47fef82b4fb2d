// Package chaos runs a votestream process under a supervisor that kills it
// with SIGKILL at seeded random points and restarts it, to prove that a
// crash loses and double-counts nothing.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Defaults of SuperviseConfig.
const (
	DefaultMinDelay    = 500 * time.Millisecond
	DefaultMaxDelay    = 3 * time.Second
	DefaultStopTimeout = time.Minute
)

// progressPoll is how often Supervise reads SuperviseConfig.Progress while a
// kill waits for the child to make progress.
const progressPoll = 20 * time.Millisecond

// SuperviseConfig configures Supervise.
type SuperviseConfig struct {
	// Binary is the path of the votestream executable, such as the result
	// of os.Executable. Required.
	Binary string
	// Args are the arguments after the binary, such as
	// {"bridge", "--brokers", "127.0.0.1:9092"}.
	Args []string
	// Env is added to the supervisor's own environment for the child.
	Env []string
	// Stdout and Stderr receive the child's output; nil discards it.
	Stdout io.Writer
	Stderr io.Writer

	// Kills is how many times the child is killed with SIGKILL and
	// restarted. 0 only runs it until ctx ends.
	Kills int
	// Seed seeds the kill delays: the same seed draws the same delays.
	Seed uint64
	// MinDelay and MaxDelay bound the time from a child's start to its kill,
	// drawn uniformly; defaults DefaultMinDelay and DefaultMaxDelay.
	MinDelay time.Duration
	MaxDelay time.Duration
	// Progress, when set, returns a counter of the child's work, such as
	// the records the local Firehose accepted. A kill then waits past its
	// delay until the counter has grown since the child started, so that
	// every kill lands in the middle of work and none in the start-up.
	Progress func() int64

	// OnKill, when set, is called after each kill with the number of kills
	// so far, before the restart.
	OnKill func(kills int)

	// StopTimeout bounds the wait for the child after SIGTERM when ctx
	// ends; the child is then killed. Default DefaultStopTimeout. Give more
	// than the child's own drain timeout.
	StopTimeout time.Duration

	// Logger receives every start, kill and exit; nil discards them.
	Logger *slog.Logger
}

// Result is what Supervise did.
type Result struct {
	// Kills counts the SIGKILLs sent.
	Kills int
	// Restarts counts the starts after the first.
	Restarts int
}

// Supervise runs the child, kills it with SIGKILL cfg.Kills times at random
// delays and restarts it each time, and then lets it run until ctx ends.
// When ctx ends it sends SIGTERM and waits up to StopTimeout for the child
// to exit. It returns nil when the last child exited with status 0 after
// SIGTERM, and an error when a child exited on its own, exited with a
// failure after SIGTERM, or could not be started. The Result counts the
// kills and restarts made in every case.
func Supervise(ctx context.Context, cfg SuperviseConfig) (Result, error) {
	var result Result
	if cfg.Binary == "" {
		return result, errors.New("supervise: no binary given")
	}
	if cfg.Kills < 0 {
		return result, fmt.Errorf("supervise: Kills %d is negative", cfg.Kills)
	}
	if cfg.MinDelay == 0 && cfg.MaxDelay == 0 {
		cfg.MinDelay, cfg.MaxDelay = DefaultMinDelay, DefaultMaxDelay
	}
	if cfg.MinDelay < 0 || cfg.MaxDelay < cfg.MinDelay {
		return result, fmt.Errorf("supervise: delay window %s to %s is invalid: MinDelay must not be negative or above MaxDelay", cfg.MinDelay, cfg.MaxDelay)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b696c6c))

	for {
		child, err := start(cfg)
		if err != nil {
			return result, err
		}
		var startProgress int64
		if cfg.Progress != nil {
			startProgress = cfg.Progress()
		}

		if result.Kills < cfg.Kills {
			delay := cfg.MinDelay + time.Duration(rng.Int64N(int64(cfg.MaxDelay-cfg.MinDelay)+1))
			switch waitForKill(ctx, child, delay, cfg.Progress, startProgress) {
			case outcomeExited:
				return result, fmt.Errorf("supervise: %s exited on its own: %w", child.describe(), child.exitErr)
			case outcomeCancelled:
				return result, stop(child, cfg)
			}

			if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return result, fmt.Errorf("supervise: kill %s: %w", child.describe(), err)
			}
			<-child.done
			result.Kills++
			cfg.Logger.Warn("chaos: child killed with SIGKILL", "pid", child.cmd.Process.Pid, "after", delay.String(), "kill", result.Kills, "of", cfg.Kills)
			if cfg.OnKill != nil {
				cfg.OnKill(result.Kills)
			}
			if ctx.Err() != nil {
				return result, nil
			}
			result.Restarts++
			continue
		}

		select {
		case <-child.done:
			return result, fmt.Errorf("supervise: %s exited on its own: %w", child.describe(), child.exitErr)
		case <-ctx.Done():
			return result, stop(child, cfg)
		}
	}
}

// child is one running process.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // set before done is closed
}

func (c *child) describe() string {
	return fmt.Sprintf("%s (pid %d)", c.cmd.Path, c.cmd.Process.Pid)
}

func start(cfg SuperviseConfig) (*child, error) {
	cmd := exec.Command(cfg.Binary, cfg.Args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout = cfg.Stdout
	cmd.Stderr = cfg.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("supervise: start %s: %w", cfg.Binary, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.exitErr = cmd.Wait()
		if c.exitErr == nil {
			c.exitErr = errors.New("exit status 0")
		}
		close(c.done)
	}()
	cfg.Logger.Info("chaos: child started", "pid", cmd.Process.Pid, "binary", cfg.Binary, "args", cfg.Args)
	return c, nil
}

type waitOutcome int

const (
	outcomeKill waitOutcome = iota
	outcomeExited
	outcomeCancelled
)

// waitForKill waits delay and then, when progress is set, until it exceeds
// startProgress.
func waitForKill(ctx context.Context, c *child, delay time.Duration, progress func() int64, startProgress int64) waitOutcome {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-c.done:
		return outcomeExited
	case <-ctx.Done():
		return outcomeCancelled
	}
	if progress == nil {
		return outcomeKill
	}

	ticker := time.NewTicker(progressPoll)
	defer ticker.Stop()
	for progress() <= startProgress {
		select {
		case <-ticker.C:
		case <-c.done:
			return outcomeExited
		case <-ctx.Done():
			return outcomeCancelled
		}
	}
	return outcomeKill
}

// stop sends SIGTERM and waits up to StopTimeout, then kills the child.
func stop(c *child, cfg SuperviseConfig) error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("supervise: send SIGTERM to %s: %w", c.describe(), err)
	}
	cfg.Logger.Info("chaos: SIGTERM sent; waiting for the child to drain", "pid", c.cmd.Process.Pid, "timeout", cfg.StopTimeout.String())

	timer := time.NewTimer(cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
		return fmt.Errorf("supervise: %s did not exit within %s of SIGTERM and was killed", c.describe(), cfg.StopTimeout)
	}

	var exitErr *exec.ExitError
	if errors.As(c.exitErr, &exitErr) {
		return fmt.Errorf("supervise: %s failed after SIGTERM: %w", c.describe(), c.exitErr)
	}
	cfg.Logger.Info("chaos: child stopped", "pid", c.cmd.Process.Pid)
	return nil
}
