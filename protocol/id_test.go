package protocol

import "testing"

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want ID
		ok   bool
	}{
		{"0-0", Zero, true},
		{"1732530000000-3", ID{1732530000000, 3}, true},
		{"18446744073709551615-18446744073709551615", ID{^uint64(0), ^uint64(0)}, true},
		{"18446744073709551616-0", ID{}, false},
		{"", ID{}, false},
		{"1", ID{}, false},
		{"-1", ID{}, false},
		{"1-", ID{}, false},
		{"1--2", ID{}, false},
		{"1-2-3", ID{}, false},
		{"+1-2", ID{}, false},
		{" 1-2", ID{}, false},
		{"a-b", ID{}, false},
		{"$", ID{}, false},
	}
	for _, tt := range tests {
		got, err := ParseID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestCompareAndPrev(t *testing.T) {
	a, b := MustParseID("5-9"), MustParseID("6-0")
	if !a.Less(b) || b.Less(a) || a.Compare(a) != 0 {
		t.Fatal("ordering wrong")
	}
	if MustParseID("10-2").Less(MustParseID("9-100")) {
		t.Fatal("ms must compare numerically")
	}
	if got := b.Prev(); got != (ID{5, ^uint64(0)}) || !a.Less(got) {
		t.Fatalf("Prev = %v", got)
	}
	if Zero.Prev() != Zero || MustParseID("3-1").Prev() != MustParseID("3-0") {
		t.Fatal("Prev edge cases")
	}
}

func TestCompare(t *testing.T) {
	ids := []string{"0-0", "0-1", "1-0", "1-9", "2-10", "10-0"} // ascending
	for i, a := range ids {
		for j, b := range ids {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := MustParseID(a).Compare(MustParseID(b)); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0-0", "1-2", "18446744073709551615-1", "-", "1-", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip %q -> %v -> %v", s, id, back)
		}
		if len(id.String()) > len(s) {
			t.Fatalf("id %q formats to longer %q", s, id)
		}
	})
}
