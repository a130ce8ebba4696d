package stream

import (
	"errors"
	"testing"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestCheckLayout(t *testing.T) {
	tests := []struct {
		name string
		// before: what Redis holds: a {prefix}:layout value ("" none) and
		// whether the one-partition log exists.
		layout  string
		single  bool
		p       int
		wantErr error
		// want is {prefix}:layout afterwards ("" none).
		want string
	}{
		{"one partition on a new deployment writes nothing", "", false, 1, nil, ""},
		{"one partition on its own log", "", true, 1, nil, ""},
		{"one partition on a partitioned deployment", "3", false, 1, ErrLayout, "3"},
		{"partitions on a new deployment record P", "", false, 3, nil, "3"},
		{"partitions on their own deployment", "3", false, 3, nil, "3"},
		{"partitions on another count", "6", false, 3, ErrLayout, "6"},
		{"partitions on a one-partition log", "", true, 3, ErrLayout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := testClient(t, backends[0])
			prefix := testutil.Prefix(t)
			ctx := testCtx(t)
			if tt.layout != "" {
				if err := rdb.Set(ctx, "{"+prefix+"}:layout", tt.layout, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.single {
				one, err := New(Config{Prefix: prefix}, rdb, nil)
				if err != nil {
					t.Fatal(err)
				}
				publishN(t, one, 1, "user:a")
			}
			s, err := New(Config{Prefix: prefix, Partitions: tt.p, Partition: tt.p - 1}, rdb, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckLayout(ctx); !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckLayout: %v, want %v", err, tt.wantErr)
			}
			got, _ := rdb.Get(ctx, "{"+prefix+"}:layout").Result()
			if got != tt.want {
				t.Fatalf("{prefix}:layout = %q, want %q", got, tt.want)
			}
		})
	}
}
