package jobs

import (
	"errors"
	"testing"
)

func TestSlurmArgs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		words []string
		want  []Directive // Opt, Arg, Slurm
		err   string
	}{
		{"long with =", []string{"--job-name=x"}, []Directive{{Opt: "N", Arg: "x", Slurm: "--job-name=x"}}, ""},
		{"long apart", []string{"--time", "5"}, []Directive{{Opt: "l", Arg: "walltime=00:05:00", Slurm: "--time=5"}}, ""},
		{"short joined", []string{"-Jy"}, []Directive{{Opt: "N", Arg: "y", Slurm: "--job-name=y"}}, ""},
		{"prefix", []string{"--out=o.txt"}, []Directive{{Opt: "o", Arg: "o.txt", Slurm: "--output=o.txt"}}, ""},
		{"exact over prefix", []string{"--mem=1G"}, []Directive{{Opt: "l", Arg: "mem=1gb", Slurm: "--mem=1G"}}, ""},
		{"ambiguous prefix", []string{"--n=1"}, nil, "--n: this sbatch option is not translated"},
		{"not translated", []string{"--gres=gpu:1"}, nil, "--gres: this sbatch option is not translated"},
		{"bad value", []string{"--time=x"}, nil, "--time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SlurmArgs(tc.words)
			if tc.err != "" {
				var ae *SlurmArgError
				if err == nil || !errors.As(err, &ae) || len(err.Error()) < len(tc.err) || err.Error()[:len(tc.err)] != tc.err {
					t.Fatalf("SlurmArgs(%q) = %v, %v; want error %q", tc.words, got, err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("SlurmArgs(%q) = %v, %v; want %v", tc.words, got, err, tc.want)
			}
			for i := range got {
				if got[i].Opt != tc.want[i].Opt || got[i].Arg != tc.want[i].Arg || got[i].Slurm != tc.want[i].Slurm {
					t.Errorf("SlurmArgs(%q)[%d] = %+v, want %+v", tc.words, i, got[i], tc.want[i])
				}
			}
		})
	}
	for _, w := range []struct {
		word       string
		known, arg bool
	}{{"--time", true, true}, {"-t", true, true}, {"--requeue", true, false}, {"--outp", true, true}, {"--gres", false, false}, {"-Z", false, false}} {
		if k, a := SlurmOptionArg(w.word); k != w.known || a != w.arg {
			t.Errorf("SlurmOptionArg(%q) = %v, %v; want %v, %v", w.word, k, a, w.known, w.arg)
		}
	}
}
