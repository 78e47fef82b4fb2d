package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one line of progress on a terminal, redrawn in place at
// most every interval. On anything else (a file, CI logs) it prints a plain
// line at most every tenth of the work, so that logs stay short.
type progressBar struct {
	w        io.Writer
	label    string
	total    int64
	terminal bool

	mu    sync.Mutex
	start time.Time
	// base is the first count reported, so that the rate covers only the
	// work done while the bar was shown.
	base      int64
	started   bool
	lastDraw  time.Time
	lastTenth int64
	done      bool
}

const progressInterval = 200 * time.Millisecond

func newProgressBar(w io.Writer, label string, total int64, terminal bool) *progressBar {
	return &progressBar{w: w, label: label, total: total, terminal: terminal, start: time.Now(), lastTenth: -1}
}

// Update records that n of total units are done.
func (p *progressBar) Update(n int64) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}

	now := time.Now()
	if !p.started {
		p.started, p.base, p.start = true, n, now
	}
	if p.terminal {
		if now.Sub(p.lastDraw) < progressInterval && n < p.total {
			return
		}
		p.lastDraw = now
		fmt.Fprintf(p.w, "\r%s", p.line(n, now))
		return
	}
	tenth := int64(10)
	if p.total > 0 {
		tenth = n * 10 / p.total
	}
	if tenth == p.lastTenth {
		return
	}
	p.lastTenth = tenth
	fmt.Fprintln(p.w, p.line(n, now))
}

// Finish draws the final state and ends the line.
func (p *progressBar) Finish(n int64) {
	if p == nil || p.w == nil {
		return
	}
	p.Update(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && !p.done {
		fmt.Fprintln(p.w)
	}
	p.done = true
}

func (p *progressBar) line(n int64, now time.Time) string {
	const width = 30
	fraction := 1.0
	if p.total > 0 {
		fraction = float64(n) / float64(p.total)
	}
	filled := int(fraction * width)
	filled = max(0, min(width, filled))
	// A rate over less than a second swings wildly, so none is shown yet.
	rate := "-"
	if elapsed := now.Sub(p.start).Seconds(); elapsed >= 1 {
		rate = formatCount(int64(float64(n-p.base) / elapsed))
	}
	return fmt.Sprintf("%-26s [%s%s] %5.1f%% %s/%s %s/s",
		p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), fraction*100,
		formatCount(n), formatCount(p.total), rate)
}

// formatCount writes n with thousands separators, as in 28,809,340.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + formatCount(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
