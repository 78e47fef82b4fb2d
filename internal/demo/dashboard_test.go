package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/votestream/votestream/internal/simulate"
)

// TestDashboardShowsLedgerAfterFaultyReplay replays two counties with every
// fault rate above zero and the dashboard on, then loads the page in
// headless Chromium and checks that it shows the ledger's counts and that
// the lake and the ledger agree.
func TestDashboardShowsLedgerAfterFaultyReplay(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found in PATH: install it with 'apt-get install chromium' (bash .ci/setup does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cfg := testConfig(t, vermontSlice(t, "50009", "50013"), stateDir(t))
	cfg.Faults = simulate.Faults{DoubleVoteRate: 0.02, RedeliveryRate: 0.02, UnknownVoterRate: 0.01, UnknownCandidateRate: 0.01, MalformedRate: 0.01}
	cfg.Serve = true

	type shown struct {
		Accepted, Rejected, Audit string
	}
	var page shown
	var want shown
	var pageErr error
	cfg.ServeReady = func(s *Summary) {
		defer cancel()
		var rejected int64
		for _, n := range s.Rejected {
			rejected += n
		}
		want = shown{Accepted: formatCount(s.LedgerVotes), Rejected: formatCount(rejected), Audit: "agree"}
		page, pageErr = readDashboard(t, chromium, s.DashboardURL, want.Accepted)
	}
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	if pageErr != nil {
		t.Fatal(pageErr)
	}
	if page.Accepted != want.Accepted {
		t.Errorf("page shows %s accepted ballots, ledger has %s", page.Accepted, want.Accepted)
	}
	if page.Rejected != want.Rejected {
		t.Errorf("page shows %s rejected ballots, ledger has %s", page.Rejected, want.Rejected)
	}
	if page.Audit != want.Audit {
		t.Errorf("page shows lake and ledger as %q, want %q", page.Audit, want.Audit)
	}
}

// readDashboard loads url in headless Chromium, waits until the accepted
// ballots read wantAccepted (the page updates over server-sent events), and
// returns what the page shows. It saves a screenshot as a test artifact.
func readDashboard(t *testing.T, chromium, url, wantAccepted string) (struct{ Accepted, Rejected, Audit string }, error) {
	var page struct{ Accepted, Rejected, Audit string }
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return page, fmt.Errorf("load %s: %w", url, err)
	}
	wait := fmt.Sprintf(`document.getElementById("kpi-accepted").textContent === %q && document.getElementById("audit").dataset.state !== "unknown"`, wantAccepted)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](wait, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		shownNow, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("kpi-accepted").textContent`))
		return page, fmt.Errorf("page never showed %s accepted ballots (it shows %q): %w", wantAccepted, shownNow, err)
	}

	read := `[document.getElementById("kpi-accepted").textContent, document.getElementById("kpi-rejected").textContent, document.getElementById("audit").dataset.state].join("|")`
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](read))
	if err != nil {
		return page, fmt.Errorf("read the page: %w", err)
	}
	parts := strings.Split(text, "|")
	if len(parts) != 3 {
		return page, fmt.Errorf("read the page: got %q", text)
	}
	page.Accepted, page.Rejected, page.Audit = parts[0], parts[1], parts[2]

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return page, fmt.Errorf("take screenshot: %w", err)
	}
	path := filepath.Join(t.ArtifactDir(), "demo-dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return page, err
	}
	t.Logf("screenshot: %s", path)
	return page, nil
}
