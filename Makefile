# Lazarus — see README.md.
GO       ?= go
# sudo resets PATH; the Go toolchain usually lives here.
export PATH := $(PATH):/usr/local/go/bin
PREFIX   ?= /usr/local
BINDIR   := bin
CMDS     := $(notdir $(wildcard cmd/*))
GOFLAGS  ?=
export GOFLAGS

.PHONY: all build lib test bench fuzz check install install-lib demo demo-cluster clean

all: build lib

# liblazarus (ckpt/clib): chkpnt(3), restart(3) and their Fortran forms.
# The library runs the utilities at LAZARUS_BINDIR, fixed here (the
# integration tests build it with their own bin directory).
CC             ?= cc
CFLAGS         ?= -O2 -Wall -Wextra
LAZARUS_BINDIR ?= $(PREFIX)/bin
LIBOUT         ?= $(BINDIR)/lib
VERSION        ?= 0.1
MANPAGES       := $(wildcard docs/man/*.[0-9]*)

lib:
	@mkdir -p $(LIBOUT)
	$(CC) $(CFLAGS) -fPIC -DLAZARUS_BINDIR='"$(LAZARUS_BINDIR)"' -c ckpt/clib/chkpnt.c -o $(LIBOUT)/chkpnt.o
	$(CC) -shared -Wl,-soname,liblazarus.so.1 -o $(LIBOUT)/liblazarus.so.1 $(LIBOUT)/chkpnt.o
	ln -sf liblazarus.so.1 $(LIBOUT)/liblazarus.so
	rm -f $(LIBOUT)/liblazarus.a && ar rcs $(LIBOUT)/liblazarus.a $(LIBOUT)/chkpnt.o
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ckpt/clib/lazarus.pc.in > $(LIBOUT)/lazarus.pc

build:
	@mkdir -p $(BINDIR)
	$(GO) build -o $(BINDIR)/ ./cmd/...

# What CI runs. Engine tests need root (ptrace of other users' processes,
# clone3 set_tid); they say so and skip when not root.
# The -json stream goes through internal/testreport, which prints what plain
# go test prints and ends with the failed tests' first errors and the slowest
# tests; the whole stream is kept in test.json.
test: build
	bash -c 'set -o pipefail; $(GO) test -json -count=1 -timeout 40m ./... | $(GO) run ./internal/testreport -log test.json'

# Benchmarks print figures; they are not tests. BenchmarkCheckpointStop
# (ckpt/bench_test.go: the job's stop, until durable, checkpointer RSS,
# tracked and untracked, as ratios to issue 13's figures) runs 256 MiB,
# 1 GiB and 4 GiB (if memory allows); LAZARUS_BENCH_14G=1 adds 14 GiB
# (minutes, 17 GiB free); LAZARUS_BENCH_WAY=uffd|tracked|twin one way;
# LAZARUS_BENCH_PREREARM=0 re-arms the tracker in the freeze only;
# LAZARUS_BENCH_DEBUG=1 prints what each freeze spent its time on.
bench: build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

# Each fuzz target for FUZZTIME (make test runs their seed corpora only).
FUZZTIME ?= 30s
fuzz:
	@set -e; grep -rH --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | \
	while IFS=: read -r file fn; do \
		name=$${fn#func }; pkg=./$$(dirname $${file#./}); \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

install: build install-lib
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix $(BINDIR)/,$(CMDS)) $(DESTDIR)$(PREFIX)/bin/

# The library, its header, Fortran include file, pkg-config file and the
# man pages.
install-lib: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3
	install -m 0755 $(LIBOUT)/liblazarus.so.1 $(DESTDIR)$(PREFIX)/lib/
	ln -sf liblazarus.so.1 $(DESTDIR)$(PREFIX)/lib/liblazarus.so
	install -m 0644 $(LIBOUT)/liblazarus.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(LIBOUT)/lazarus.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 0644 ckpt/clib/chkpnt.h ckpt/clib/chkpnt.inc $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(filter %.1,$(MANPAGES)) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(filter-out %.1,$(MANPAGES)) $(DESTDIR)$(PREFIX)/share/man/man3/

demo: build
	./integration/demo.sh

# Three nodes over one etcd on this machine, and a job migrating between them.
demo-cluster: build
	./integration/demo-cluster.sh

clean:
	rm -rf $(BINDIR)
