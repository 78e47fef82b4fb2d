package dashboard_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/votestream/votestream/glue"
	"github.com/votestream/votestream/internal/dashboard"
	"github.com/votestream/votestream/internal/vote"
)

// TestBrowserShowsLiveTallies loads the page in headless Chromium, checks
// that every number it shows equals the published snapshots, publishes more
// and checks that the page follows without a reload, and saves a screenshot.
// Run with -artifacts to keep the screenshot; the log names its path.
func TestBrowserShowsLiveTallies(t *testing.T) {
	chromium := findChromium(t)
	brokers, producer := startBroker(t)
	srv, url := startDashboard(t, brokers)

	const electionID = "state-gov-2026"
	early := electionNight(electionID, 0.55)
	publish(t, producer, early...)

	ctx := newBrowser(t, chromium)
	var requestsMu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			requestsMu.Lock()
			requests = append(requests, e.Request.URL)
			requestsMu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listen to browser events: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable network events: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}

	waitShown(t, ctx, expectedPage(early, "unknown"))

	// A marker on window survives only as long as the page is not reloaded.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.loadMarker = "first load"`)); err != nil {
		t.Fatal(err)
	}

	final := electionNight(electionID, 1)
	publish(t, producer, final...)
	srv.SetAudit(dashboard.Audit{Agree: true, LakeVotes: sumAccepted(final), LedgerVotes: sumAccepted(final), CheckedAt: time.Now()})
	waitShown(t, ctx, expectedPage(final, "agree"))

	marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.loadMarker || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if marker != "first load" {
		t.Errorf("window.loadMarker = %q after the update, want %q: the page was reloaded", marker, "first load")
	}

	saveScreenshot(t, ctx)

	// The regional table filters as the user types.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#region-search"), "lake")); err != nil {
		t.Fatal(err)
	}
	rows, err := pollJS[[]string](ctx, `(() => { const codes = [...document.querySelectorAll("#region-table tbody tr")].map(tr => tr.dataset.regionCode); return codes.length === 1 ? codes : null; })()`)
	if err != nil {
		t.Fatalf("region search for %q did not leave one row: %v", "lake", err)
	}
	if want := []string{"R07"}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows after search = %v, want %v", rows, want)
	}

	requestsMu.Lock()
	defer requestsMu.Unlock()
	if len(requests) == 0 {
		t.Error("no network requests were seen; the listener is broken")
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, url+"/") {
			t.Errorf("page requested %s, outside the dashboard at %s", u, url)
		}
	}
}

// findChromium returns the path of Debian's chromium, and fails the test
// with the install command when it is missing.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("chromium not found in PATH: install it with 'apt-get install chromium' (bash .ci/setup does)")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and without the
// background connections it would otherwise try (updates, sync, safe
// browsing), and stops it when the test ends.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})

	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// shownPage is what the page shows, read from the DOM as text.
type shownPage struct {
	Accepted      string            `json:"accepted"`
	Received      string            `json:"received"`
	Rejected      string            `json:"rejected"`
	Regions       string            `json:"regions"`
	Leader        string            `json:"leader"`
	LeaderVotes   string            `json:"leaderVotes"`
	Party         string            `json:"party"`
	Turnout       string            `json:"turnout"`
	Audit         string            `json:"audit"`
	TimelineTotal string            `json:"timelineTotal"`
	Candidates    map[string]string `json:"candidates"`
	Parties       map[string]string `json:"parties"`
	RegionRows    map[string]string `json:"regionRows"`
	Reasons       map[string]string `json:"reasons"`
	AgeBands      map[string]string `json:"ageBands"`
}

const readPageJS = `(() => {
  const text = (sel) => document.querySelector(sel).textContent;
  const table = (sel, key, cellSel) => Object.fromEntries(
    [...document.querySelectorAll(sel + " tbody tr")].map((tr) => [tr.dataset[key], tr.querySelector(cellSel).textContent]));
  const ageRows = document.querySelectorAll("#age-table tbody tr");
  const ageBands = {};
  if (ageRows.length >= 2) {
    const names = [...ageRows[0].cells].slice(1).map((c) => c.textContent);
    const counts = [...ageRows[1].cells].slice(1).map((c) => c.textContent);
    names.forEach((name, i) => { ageBands[name] = counts[i]; });
  }
  return {
    accepted: text("#kpi-accepted"), received: text("#kpi-received"), rejected: text("#kpi-rejected"),
    regions: text("#kpi-regions"), leader: text("#kpi-leader-name"), leaderVotes: text("#kpi-leader-votes"),
    party: text("#kpi-party"), turnout: text("#kpi-turnout"), audit: text("#audit-text"),
    timelineTotal: text("#timeline-total"),
    candidates: table("#candidate-table", "candidateId", ".votes"),
    parties: table("#party-table", "party", ".votes"),
    regionRows: table("#region-table", "regionCode", ".accepted"),
    reasons: table("#rejected-table", "reason", ".count"),
    ageBands,
  };
})()`

// waitShown reads the page until it shows want, and fails with the last
// difference after 20 seconds.
func waitShown(t *testing.T, ctx context.Context, want shownPage) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got shownPage
	for {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[shownPage](readPageJS))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("page shows %s = %v, want %v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	t.FailNow()
}

// pollJS waits up to 10 seconds for expression to return a truthy value.
func pollJS[T any](ctx context.Context, expression string) (T, error) {
	return chromedp.Run(ctx, chromedp.Poll[T](expression, chromedp.WithPollingTimeout(10*time.Second)))
}

func saveScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	// Let the charts finish their 300 ms update animation.
	if _, err := pollJS[bool](ctx, `new Promise((resolve) => setTimeout(() => resolve(true), 500))`); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("take screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// expectedPage computes, from the snapshots alone, what the page must show.
func expectedPage(snaps []vote.TallySnapshot, audit string) shownPage {
	want := shownPage{
		Audit:      audit,
		Candidates: map[string]string{},
		Parties:    map[string]string{},
		RegionRows: map[string]string{},
		Reasons:    map[string]string{},
		AgeBands:   map[string]string{},
	}
	var accepted, rejected, registered int64
	candidateVotes := map[string]int64{}
	candidateNames := map[string]string{}
	partyVotes := map[string]int64{}
	reasons := map[string]int64{}
	ages := map[string]int64{}
	var timelineTotal int64
	for _, s := range snaps {
		accepted += s.Accepted
		registered += s.RegisteredVoters
		want.RegionRows[s.RegionCode] = commas(s.Accepted)
		for _, c := range s.Candidates {
			candidateVotes[c.CandidateID] += c.Votes
			candidateNames[c.CandidateID] = c.Name
			partyVotes[c.Party] += c.Votes
		}
		for reason, n := range s.Rejected {
			reasons[reason] += n
			rejected += n
		}
		for band, n := range s.AgeBands {
			ages[band] += n
		}
		for _, n := range s.Timeline {
			timelineTotal += n
		}
	}

	leader, party := "", ""
	for id, n := range candidateVotes {
		want.Candidates[id] = commas(n)
		if leader == "" || n > candidateVotes[leader] {
			leader = id
		}
	}
	for p, n := range partyVotes {
		want.Parties[p] = commas(n)
		if party == "" || n > partyVotes[party] {
			party = p
		}
	}
	for reason, n := range reasons {
		want.Reasons[reason] = commas(n)
	}
	for band, n := range ages {
		want.AgeBands[band] = commas(n)
	}

	want.Accepted = commas(accepted)
	want.Received = commas(accepted + rejected)
	want.Rejected = commas(rejected)
	want.Regions = commas(int64(len(snaps)))
	want.Leader = candidateNames[leader]
	want.LeaderVotes = commas(candidateVotes[leader])
	want.Party = party
	want.Turnout = fmt.Sprintf("%.1f%%", 100*float64(accepted)/float64(registered))
	want.TimelineTotal = commas(timelineTotal)
	return want
}

func sumAccepted(snaps []vote.TallySnapshot) int64 {
	var n int64
	for _, s := range snaps {
		n += s.Accepted
	}
	return n
}

// commas formats n as the page does with Intl.NumberFormat("en-US").
func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Test election: ten regions and five candidates, with invented names.
var (
	testCandidates = []vote.CandidateCount{
		{CandidateID: "c1", Name: "Maria Delgado", Party: "Democrat"},
		{CandidateID: "c2", Name: "James Whitfield", Party: "Republican"},
		{CandidateID: "c3", Name: "Priya Natarajan", Party: "Green"},
		{CandidateID: "c4", Name: "Tom Becker", Party: "Libertarian"},
		{CandidateID: "c5", Name: "Write-in", Party: "Write-in"},
	}
	testRegions = []struct {
		code, name string
		registered int64
		turnout    float64
		shares     []float64 // per testCandidates
	}{
		{"R01", "Harbor County", 182_000, 0.71, []float64{0.58, 0.35, 0.04, 0.02, 0.01}},
		{"R02", "Pine Ridge County", 64_500, 0.66, []float64{0.39, 0.55, 0.02, 0.03, 0.01}},
		{"R03", "Granite Falls", 97_300, 0.69, []float64{0.47, 0.46, 0.04, 0.02, 0.01}},
		{"R04", "Maple Valley", 51_800, 0.74, []float64{0.52, 0.41, 0.05, 0.01, 0.01}},
		{"R05", "North Fork", 38_900, 0.62, []float64{0.33, 0.61, 0.02, 0.03, 0.01}},
		{"R06", "Cedar Plains", 73_400, 0.64, []float64{0.44, 0.50, 0.03, 0.02, 0.01}},
		{"R07", "Lakeshore", 121_700, 0.73, []float64{0.61, 0.31, 0.05, 0.02, 0.01}},
		{"R08", "Iron Hills", 45_200, 0.59, []float64{0.36, 0.58, 0.02, 0.03, 0.01}},
		{"R09", "Willow Creek", 29_800, 0.67, []float64{0.49, 0.45, 0.03, 0.02, 0.01}},
		{"R10", "Stonebridge", 88_600, 0.70, []float64{0.50, 0.44, 0.03, 0.02, 0.01}},
	}
	testAgeShares = []float64{0.09, 0.14, 0.16, 0.16, 0.18, 0.16, 0.11}
)

// electionNight returns one snapshot per test region after the given share
// of polling day (0 to 1), from 11:00 to 24:00 UTC in quarter hours. Every
// count is a whole number that adds up: candidates, age bands and timeline
// buckets each sum to Accepted.
func electionNight(electionID string, progress float64) []vote.TallySnapshot {
	const buckets = 52
	open := time.Date(2026, 11, 3, 11, 0, 0, 0, time.UTC)
	// A morning and an evening peak, as polling stations see.
	weight := func(i int) float64 {
		x := float64(i) / buckets
		return 0.4 + math.Exp(-math.Pow((x-0.15)/0.1, 2)) + 1.4*math.Exp(-math.Pow((x-0.8)/0.12, 2))
	}
	var weightSum float64
	for i := range buckets {
		weightSum += weight(i)
	}
	shown := int(math.Round(progress * buckets))

	snaps := make([]vote.TallySnapshot, 0, len(testRegions))
	for r, region := range testRegions {
		final := int64(float64(region.registered) * region.turnout)
		snap := vote.TallySnapshot{
			ElectionID: electionID, RegionCode: region.code, RegionName: region.name,
			RegisteredVoters: region.registered,
			Rejected:         map[string]int64{},
			AgeBands:         map[string]int64{},
			Timeline:         map[string]int64{},
			UpdatedAt:        vote.FormatTime(open.Add(time.Duration(shown) * 15 * time.Minute)),
		}
		for i := range shown {
			n := int64(float64(final) * weight(i) / weightSum)
			snap.Timeline[vote.FormatTime(open.Add(time.Duration(i)*15*time.Minute))] = n
			snap.Accepted += n
		}

		remaining := snap.Accepted
		for i, c := range testCandidates {
			c.Votes = int64(float64(snap.Accepted) * region.shares[i])
			if i == len(testCandidates)-1 {
				c.Votes = remaining
			}
			remaining -= c.Votes
			snap.Candidates = append(snap.Candidates, c)
		}

		remaining = snap.Accepted
		for i, band := range glue.AgeBands {
			n := int64(float64(snap.Accepted) * testAgeShares[i])
			if i == len(glue.AgeBands)-1 {
				n = remaining
			}
			remaining -= n
			snap.AgeBands[band] = n
		}

		if snap.Accepted > 0 {
			snap.Rejected["duplicate_voter"] = snap.Accepted/180 + int64(r)
			snap.Rejected["unknown_voter"] = snap.Accepted / 700
			snap.Rejected["unknown_candidate"] = snap.Accepted / 1500
			snap.Rejected["malformed"] = int64(r % 3)
		}
		snaps = append(snaps, snap)
	}
	return snaps
}
