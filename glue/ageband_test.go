package glue

import "testing"

func TestAgeBand(t *testing.T) {
	tests := []struct {
		age  int
		want string
	}{
		{-1, ""},
		{17, ""},
		{18, "18-24"},
		{24, "18-24"},
		{25, "25-34"},
		{34, "25-34"},
		{35, "35-44"},
		{44, "35-44"},
		{45, "45-54"},
		{54, "45-54"},
		{55, "55-64"},
		{64, "55-64"},
		{65, "65-74"},
		{74, "65-74"},
		{75, "75+"},
		{120, "75+"},
	}
	for _, tt := range tests {
		if got := AgeBand(tt.age); got != tt.want {
			t.Errorf("AgeBand(%d) = %q, want %q", tt.age, got, tt.want)
		}
	}
}

func TestAgeBandsCoverEveryBand(t *testing.T) {
	if len(AgeBands) != len(ageBandLowerBounds) {
		t.Fatalf("%d band names for %d lower bounds", len(AgeBands), len(ageBandLowerBounds))
	}
	for i, lower := range ageBandLowerBounds {
		if got := AgeBand(lower); got != AgeBands[i] {
			t.Errorf("AgeBand(%d) = %q, want %q", lower, got, AgeBands[i])
		}
	}
}
