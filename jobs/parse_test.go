package jobs

import (
	"errors"
	"testing"
	"time"
)

func TestParseResources(t *testing.T) {
	base := Resources{NCPUs: 1}
	tests := []struct {
		name, in string
		want     Resources
		wantErr  bool
	}{
		{"empty", "", base, false},
		{"all", "ncpus=4,mem=2gb,walltime=01:30:00", Resources{NCPUs: 4, Mem: 2 << 30, Walltime: 90 * time.Minute}, false},
		{"later wins", "ncpus=2,ncpus=3", Resources{NCPUs: 3}, false},
		{"mem units", "mem=512MB", Resources{NCPUs: 1, Mem: 512 << 20}, false},
		{"walltime seconds", "walltime=90", Resources{NCPUs: 1, Walltime: 90 * time.Second}, false},
		{"unknown", "gpus=1", base, true},
		{"no value", "ncpus", base, true},
		{"zero cpus", "ncpus=0", base, true},
		{"negative cpus", "ncpus=-1", base, true},
		{"bad mem", "mem=lots", base, true},
		{"zero mem", "mem=0", base, true},
		{"bad walltime", "walltime=1:75:00", base, true},
		{"zero walltime", "walltime=0:00:00", base, true},
		// 3,000,000 hours in nanoseconds is more than an int64 holds: it
		// wrapped to a negative walltime, which passed max_walltime and
		// meant no limit at all.
		{"walltime overflow hours", "walltime=3000000:00:00", base, true},
		{"walltime overflow seconds", "walltime=18446744073709551615", base, true},
		{"walltime just over the bound", "walltime=1000000:00:01", base, true},
		{"walltime at the bound", "walltime=1000000:00:00", Resources{NCPUs: 1, Walltime: MaxWalltime}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResources(base, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseResources(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBadResource) {
					t.Errorf("error %v is not ErrBadResource", err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("ParseResources(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSizeRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		out  string
	}{
		{"1", 1, "1b"},
		{"1024", 1024, "1kb"},
		{"4k", 4096, "4kb"},
		{"3GiB", 3 << 30, "3gb"},
		{"2tb", 2 << 40, "2tb"},
		{"1536kb", 1536 << 10, "1536kb"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
			if s := FormatSize(got); s != tt.out {
				t.Errorf("FormatSize(%d) = %q, want %q", got, s, tt.out)
			}
		})
	}
	for _, bad := range []string{"", "gb", "1.5gb", "-1", "1pb", "99999999999999tb"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestWalltime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"10", 10 * time.Second},
		{"5:00", 5 * time.Minute},
		{"100:00:01", 100*time.Hour + time.Second},
		{"00:00:59", 59 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWalltime(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseWalltime(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", ":", "1:2:3:4", "1:60", "a:00:00", "1:-1:00",
		"3000000:00:00", "2562048:00:00", "9223372036:00", "99999999999999999999"} {
		if _, err := ParseWalltime(bad); err == nil {
			t.Errorf("ParseWalltime(%q) accepted", bad)
		}
	}
	for _, in := range []string{"1000000:00:00", "60000000:00", "3600000000"} {
		if got, err := ParseWalltime(in); err != nil || got != MaxWalltime {
			t.Errorf("ParseWalltime(%q) = %v, %v, want %v", in, got, err, MaxWalltime)
		}
	}
	if got := FormatDuration(100*time.Hour + 61*time.Second); got != "100:01:01" {
		t.Errorf("FormatDuration = %q, want 100:01:01", got)
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    Policy
		str     string
		wantErr bool
	}{
		{"n", Policy{Kind: CheckpointNever}, "n", false},
		{"s", Policy{Kind: CheckpointAtShutdown}, "s", false},
		{"2", Policy{CheckpointInterval, 2 * time.Hour}, "2", false},
		{"0.5", Policy{CheckpointInterval, 30 * time.Minute}, "30m", false},
		{"90m", Policy{CheckpointInterval, 90 * time.Minute}, "1h30m", false},
		{"1h30m", Policy{CheckpointInterval, 90 * time.Minute}, "1h30m", false},
		{"0", Policy{}, "", true},
		{"-1", Policy{}, "", true},
		{"30s", Policy{}, "", true},
		{"x", Policy{}, "", true},
		{"", Policy{}, "", true},
		{"1e3", Policy{}, "", true},
		{"NaN", Policy{}, "", true},
		{"Inf", Policy{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePolicy(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBadPolicy) {
					t.Errorf("error %v is not ErrBadPolicy", err)
				}
				return
			}
			if got != tt.want || got.String() != tt.str {
				t.Errorf("ParsePolicy(%q) = %+v (%q), want %+v (%q)", tt.in, got, got.String(), tt.want, tt.str)
			}
		})
	}
}

func TestParseAfter(t *testing.T) {
	loc := time.FixedZone("test", 3600)
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, loc)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"1300", time.Date(2025, 6, 15, 13, 0, 0, 0, loc), false},
		{"1100", time.Date(2025, 6, 16, 11, 0, 0, 0, loc), false}, // passed today: tomorrow
		{"1200", time.Date(2025, 6, 16, 12, 0, 0, 0, loc), false}, // now is not after now
		{"1300.30", time.Date(2025, 6, 15, 13, 0, 30, 0, loc), false},
		{"07011300", time.Date(2025, 7, 1, 13, 0, 0, 0, loc), false},
		{"01011300", time.Date(2026, 1, 1, 13, 0, 0, 0, loc), false}, // passed this year: next year
		{"202701011300", time.Date(2027, 1, 1, 13, 0, 0, 0, loc), false},
		{"202401011300", time.Time{}, true}, // full date in the past
		{"2400", time.Time{}, true},
		{"1260", time.Time{}, true},
		{"02301300", time.Time{}, true},
		{"130", time.Time{}, true},
		{"ab00", time.Time{}, true},
		{"1300.61", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAfter(tt.in, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAfter(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseIDAndNames(t *testing.T) {
	if id, err := ParseID("42.host"); err != nil || id != 42 {
		t.Errorf("ParseID(42.host) = %v, %v", id, err)
	}
	for _, bad := range []string{"", "0", "x", "-1", "4 2"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) error = %v, want ErrBadID", bad, err)
		}
	}
	for _, good := range []string{"sim", "run-1.sh", "STDIN"} {
		if err := ValidateName(good); err != nil {
			t.Errorf("ValidateName(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a b", "..", "x\n"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
	for _, good := range []string{"A=1", "_x=", "PATH"} {
		if err := ValidateVar(good); err != nil {
			t.Errorf("ValidateVar(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"=1", "1A=2", "A-B=3"} {
		if err := ValidateVar(bad); err == nil {
			t.Errorf("ValidateVar(%q) accepted", bad)
		}
	}
	if got := DefaultName("/a/b/sim.sh"); got != "sim.sh" {
		t.Errorf("DefaultName = %q", got)
	}
	if got := DefaultName("-"); got != "STDIN" {
		t.Errorf("DefaultName(-) = %q", got)
	}
}

func TestParseUmask(t *testing.T) {
	tests := []struct {
		in      string
		want    uint32
		wantErr bool
	}{
		{"022", 0o022, false},
		{"22", 0o022, false},
		{"0077", 0o077, false},
		{"0", 0, false},
		{"777", 0o777, false},
		{"", 0, true},
		{"1000", 0, true},
		{"8", 0, true},
		{"-22", 0, true},
		{"+22", 0, true},
		{"0o22", 0, true},
		{"00022", 0, true},
		{"u=rwx", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUmask(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseUmask(%q) = %#o, %v, want %#o, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadUmask) {
				t.Errorf("error %v is not ErrBadUmask", err)
			}
		})
	}
}
