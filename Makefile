# Lazarus — see README.md.
GO       ?= go
# sudo resets PATH; the Go toolchain usually lives here.
export PATH := $(PATH):/usr/local/go/bin
PREFIX   ?= /usr/local
BINDIR   := bin
CMDS     := $(notdir $(wildcard cmd/*))
GOFLAGS  ?=
export GOFLAGS

.PHONY: all build test bench fuzz check install demo clean

all: build

build:
	@mkdir -p $(BINDIR)
	$(GO) build -o $(BINDIR)/ ./cmd/...

# What CI runs. Engine tests need root (ptrace of other users' processes,
# clone3 set_tid); they say so and skip when not root.
test: build
	$(GO) test -count=1 -timeout 40m ./...

# Benchmarks print figures; they are not tests.
bench: build
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

# Fuzz targets, each for FUZZTIME (make test runs their seeds).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime $(FUZZTIME) ./ckpt

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix $(BINDIR)/,$(CMDS)) $(DESTDIR)$(PREFIX)/bin/

demo: build
	./integration/demo.sh

clean:
	rm -rf $(BINDIR)
