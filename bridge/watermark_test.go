package bridge

import "testing"

func TestWatermarkCommit(t *testing.T) {
	tests := []struct {
		name   string
		added  []int64
		done   []int64
		want   int64
		wantOK bool
	}{
		{name: "empty", wantOK: false},
		{name: "nothing done", added: []int64{5, 6, 7}, want: 5, wantOK: true},
		{name: "all done in order", added: []int64{0, 1, 2}, done: []int64{0, 1, 2}, want: 3, wantOK: true},
		{name: "all done out of order", added: []int64{0, 1, 2}, done: []int64{2, 0, 1}, want: 3, wantOK: true},
		{name: "later done first", added: []int64{0, 1, 2, 3}, done: []int64{1, 2, 3}, want: 0, wantOK: true},
		{name: "gap in the middle", added: []int64{0, 1, 2, 3}, done: []int64{0, 1, 3}, want: 2, wantOK: true},
		{name: "offset gaps all done", added: []int64{10, 14, 20}, done: []int64{20, 10, 14}, want: 21, wantOK: true},
		{name: "offset gaps first done", added: []int64{10, 14, 20}, done: []int64{10}, want: 14, wantOK: true},
		{name: "unknown offset ignored", added: []int64{10, 14}, done: []int64{12, 10}, want: 14, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWatermark()
			for _, offset := range tt.added {
				if err := w.Add(offset); err != nil {
					t.Fatalf("Add(%d): %v", offset, err)
				}
			}
			for _, offset := range tt.done {
				w.MarkDone(offset)
			}
			got, ok := w.Commit()
			if ok != tt.wantOK {
				t.Fatalf("Commit ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && got != tt.want {
				t.Errorf("Commit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWatermarkMarkDoneResult(t *testing.T) {
	w := NewWatermark()
	for _, offset := range []int64{3, 4} {
		if err := w.Add(offset); err != nil {
			t.Fatal(err)
		}
	}
	if !w.MarkDone(4) {
		t.Error("MarkDone(4) = false for a pending offset")
	}
	if w.MarkDone(7) {
		t.Error("MarkDone(7) = true for an offset never added")
	}
	if !w.MarkDone(3) {
		t.Error("MarkDone(3) = false for a pending offset")
	}
	if w.MarkDone(3) {
		t.Error("MarkDone(3) = true for an offset already passed")
	}
	if got := w.Pending(); got != 0 {
		t.Errorf("Pending = %d, want 0", got)
	}
}

func TestWatermarkAddRejectsDecreasingOffset(t *testing.T) {
	w := NewWatermark()
	if err := w.Add(10); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(9); err == nil {
		t.Error("Add(9) after Add(10) returned nil, want an error")
	}
	if err := w.Add(10); err == nil {
		t.Error("Add(10) twice returned nil, want an error")
	}
}

func TestWatermarkRevokeFreezes(t *testing.T) {
	w := NewWatermark()
	for offset := int64(0); offset < 5; offset++ {
		if err := w.Add(offset); err != nil {
			t.Fatal(err)
		}
	}
	w.MarkDone(0)
	w.MarkDone(1)
	w.MarkDone(3)

	got, ok := w.Revoke()
	if !ok || got != 2 {
		t.Fatalf("Revoke = %d, %v; want 2, true", got, ok)
	}
	if !w.Revoked() {
		t.Error("Revoked = false after Revoke")
	}

	// Acknowledgements that arrive after the revocation must not move the
	// watermark: the partition's next owner reads from offset 2.
	if w.MarkDone(2) {
		t.Error("MarkDone(2) after Revoke = true, want false")
	}
	if got, _ := w.Commit(); got != 2 {
		t.Errorf("Commit after a late MarkDone = %d, want 2", got)
	}
	if err := w.Add(5); err == nil {
		t.Error("Add after Revoke returned nil, want an error")
	}
}

func TestWatermarkManyOutOfOrder(t *testing.T) {
	// Marks done in a stride order that forces the slice to be compacted
	// many times; the watermark must stay at the first offset not done.
	const n = 10_000
	w := NewWatermark()
	for offset := int64(0); offset < n; offset++ {
		if err := w.Add(offset * 2); err != nil {
			t.Fatal(err)
		}
	}
	for start := int64(6); start >= 0; start-- {
		for offset := start; offset < n; offset += 7 {
			w.MarkDone(offset * 2)
		}
		got, _ := w.Commit()
		want := int64((n-1)*2 + 1)
		if start > 0 {
			want = 0
		}
		if got != want {
			t.Fatalf("after marking residue %d mod 7: Commit = %d, want %d", start, got, want)
		}
	}
	if got := w.Pending(); got != 0 {
		t.Errorf("Pending = %d, want 0", got)
	}
}
