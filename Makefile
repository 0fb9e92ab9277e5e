# Thin wrapper around meson/ninja. See README.md.
# Variables: PREFIX (make install, default /usr/local; DESTDIR honoured), DATA_DIR (make run), LISTEN (make run), SAN=1 (build with ASan+UBSan into build-asan).
DATA_DIR ?= .data
LISTEN   ?= 127.0.0.1:8080
ISSUER   ?= http://$(LISTEN)
PREFIX   ?= /usr/local

.PHONY: all build deps install run test unit asan fuzz bench clean format

all: build

deps:
	@scripts/deps.sh build

build: deps
	@[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
	@ninja -C build

asan: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C build-asan

# make install: idpd, libidpd-verify (.so and .a), include/idpd/verify.h and idpd-verify.pc under
# $(PREFIX), staged under $(DESTDIR) when set (docs/VERIFY.md)
install: build
	@meson configure build -Dprefix=$(PREFIX) >/dev/null
	@ninja -C build
	@meson install -C build --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

# make run builds only the server binary (not the tests, fuzz replays or benchmarks)
run:
	@scripts/deps.sh run
	@[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
	@ninja -C build idpd
	@scripts/run.sh "$(DATA_DIR)" "$(LISTEN)" "$(ISSUER)"

test:
	@scripts/deps.sh test
	@scripts/test.sh

# libFuzzer binaries (clang) for real fuzzing sessions: build-fuzz/fuzz_<name> fuzz/corpus/<name>
fuzz:
	@scripts/deps.sh test
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz --buildtype=debug -Dfuzz=libfuzzer -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C build-fuzz

bench: build
	@scripts/deps.sh test
	@[ -f build-rel/build.ninja ] || meson setup build-rel --buildtype=release >/dev/null
	@ninja -C build-rel
	@IDPD_BIN=build-rel/idpd bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
