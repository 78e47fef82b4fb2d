package jsonscan

import "testing"

func TestString(t *testing.T) {
	cases := []struct {
		p       string
		i       int
		content string
		next    int
		ok      bool
	}{
		{`"abc",`, 0, "abc", 5, true},
		{` ""`, 1, "", 3, true},
		{`"a\"b"`, 0, `a\`, 4, true},
		{`"abc`, 0, "", 0, false},
		{`abc"`, 0, "", 0, false},
		{`"a"`, 3, "", 0, false},
	}
	for _, tc := range cases {
		content, next, ok := String([]byte(tc.p), tc.i)
		if ok != tc.ok || string(content) != tc.content || next != tc.next {
			t.Errorf("String(%q, %d) = %q, %d, %v, want %q, %d, %v", tc.p, tc.i, content, next, ok, tc.content, tc.next, tc.ok)
		}
	}
}

func TestPlain(t *testing.T) {
	cases := map[string]bool{
		"abc":     true,
		"Áine":    true,
		"":        true,
		`a\`:      false,
		"a\tb":    false,
		"a\x00b":  false,
		"a\x7fb":  true,
		"line\nb": false,
	}
	for content, want := range cases {
		if got := Plain([]byte(content)); got != want {
			t.Errorf("Plain(%q) = %v, want %v", content, got, want)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	cases := []struct {
		p    string
		i    int
		want int
	}{
		{" \t\r\n{", 0, 4},
		{"{", 0, 0},
		{"   ", 1, 3},
		{"", 0, 0},
	}
	for _, tc := range cases {
		if got := SkipSpace([]byte(tc.p), tc.i); got != tc.want {
			t.Errorf("SkipSpace(%q, %d) = %d, want %d", tc.p, tc.i, got, tc.want)
		}
	}
}
