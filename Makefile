# anyhost: `make test` installs what the tests need and runs them all.
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Debian packages the tests and benchmarks start or drive.
DEB_PACKAGES := apache2 apache2-dev apache2-utils nginx nginx-dev lighttpd wrk curl ca-certificates slapd ldap-utils postgresql redis-server systemd python3 perl man-db zsh fish
OUT := out

.PHONY: all deps bench-deps test lint vet unit bench build demo clean conformance

all: build

build:
	$(GO) build -o bin/anyhost ./cmd/anyhost

# deps installs the missing Debian packages; a no-op when all are present.
deps:
	@scripts/install-debs $(DEB_PACKAGES)

vet:
	$(GO) vet ./...

lint: vet
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...

# unit runs every test with the race detector, then the allocation tests
# without it (the race detector changes allocation counts); the verbose log goes to
# $(OUT)/test.log (CI reads it for skips) and a summary to the terminal.
unit:
	@mkdir -p $(OUT)
	@set -o pipefail; status=0; \
	$(GO) test -race -count=1 -v ./... > $(OUT)/test.log 2>&1 || status=$$?; \
	$(GO) test -count=1 -v -run 'Alloc' ./core/ ./core/host/ ./adapters/apache/bridge/ >> $(OUT)/test.log 2>&1 || status=$$?; \
	grep -E '^(ok|FAIL|---|panic:|\s+--- FAIL)|\[no test files\]' $(OUT)/test.log | grep -v -- '--- PASS' ; \
	passed=$$(grep -cE '^\s*--- PASS' $(OUT)/test.log); failed=$$(grep -cE '^\s*--- FAIL' $(OUT)/test.log); \
	skipped=$$(grep -cE '^\s*--- SKIP' $(OUT)/test.log); \
	echo "$$passed passed, $$failed failed, $$skipped skipped"; \
	if [ $$status -ne 0 ]; then echo "full log: $(OUT)/test.log"; \
		grep -A4 -E '^\s+Error Trace:' $(OUT)/test.log | head -80; \
		grep -B2 -A30 -E '^\s*--- FAIL|^panic:' $(OUT)/test.log | head -200; fi; \
	exit $$status

test: deps lint unit

# conformance runs every shared table against every host (the matrix `make
# test` runs too) and writes what it found to docs/conformance.md.
conformance: deps
	ANYHOST_REQUIRE_SERVERS=1 ANYHOST_CONFORMANCE_DOC=$(CURDIR)/docs/conformance.md $(GO) test -count=1 -run TestMatrix ./internal/conformance/

# BENCH_PACKAGES: the embedded-language anchors the Apache benchmark rows
# compare anyhost with (each runs in its own httpd), and h2load (nghttp2-client)
# for the HTTP/2 rows, which wrk cannot drive.
BENCH_PACKAGES := libapache2-mod-perl2 libapache2-mod-python libapache2-mod-wsgi-py3 nghttp2-client

# bench-deps installs the missing benchmark-only Debian packages, leaving the
# system's enabled Apache modules as they were (see scripts/install-debs).
bench-deps:
	@scripts/install-debs --keep-apache-mods $(BENCH_PACKAGES)

# bench: the pipeline's cost per request (go test -bench), then the hosts
# side by side under wrk; writes docs/benchmarks.md and its plots.
bench: deps bench-deps
	$(GO) run ./internal/bench --doc docs

# demo serves the embedded demo site on 127.0.0.1:8080.
demo:
	$(GO) run ./cmd/anyhost serve

clean:
	rm -rf bin $(OUT)

# install lays out bin/anyhost, the systemd units, Apache's mods-available pair and
# nginx's snippets, and builds the Apache and nginx modules against the installed
# servers (when apache2-dev / nginx-dev are there); it enables nothing and prints what
# to run. Go builds the modules: `sudo env "PATH=$$PATH" make install` (sudo's PATH has
# no Go). uninstall removes exactly what install wrote (its manifest).
PREFIX ?= /usr/local
ETC ?= /etc
INSTALL_FLAGS ?=
.PHONY: install uninstall
install: build
	bin/anyhost install --prefix $(PREFIX) --etc $(ETC) $(if $(DESTDIR),--destdir $(DESTDIR)) $(INSTALL_FLAGS)

uninstall:
	@bin=bin/anyhost; [ -x "$$bin" ] || bin="$(DESTDIR)$(PREFIX)/bin/anyhost"; \
	"$$bin" uninstall --prefix $(PREFIX) $(if $(DESTDIR),--destdir $(DESTDIR))
