# lmkit - efficient and private LLM methods as Unix filters.
#
#   make                 build everything (CUDA kernels too when nvcc is found)
#   make check           install missing build dependencies (as root), build, run every test layer
#   make check-san       the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz            build libFuzzer targets with clang (tests/fuzz/run-fuzz runs them)
#   make fuzz-long       10 million executions per fuzz target, new inputs merged into the corpora
#   make bench           run the benchmarks in bench/ (JSON Lines on stdout)
#   make demo            build, then run the finished commands on bundled sample data
#   make install         PREFIX=/usr/local DESTDIR= : binaries, man pages, completions,
#                        share/lmkit/cl100k_base.tiktoken (the default count encoding)
#                        (and lib/lmkit/liblmkit-cuda.so in a CUDA build)
#   make completions     regenerate completions/ from the commands' option tables
#   make deps            install the Debian packages the build and tests need
#   make deps-check      install (as root) only the missing ones; run first by check and demo
#
# Variables: CC CFLAGS LDFLAGS PREFIX DESTDIR NATIVE=1 CUDA=0|1 WERROR=1 BUILD=dir

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      ?= build
CFLAGS     ?= -O2 -g
LDFLAGS    ?=
NATIVE     ?= 0
WERROR     ?= 0
SAN        ?= 0
NVCC       ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_ARCH  ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90

ifeq ($(SAN),1)
  CUDA := 0
endif
ifeq ($(origin CUDA),undefined)
  CUDA := $(if $(NVCC),1,0)
endif

PKGS := jansson libpcre2-8 libcurl
HAVE_PKGS := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo 1)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

WARN := -Wall -Wextra
ifeq ($(WERROR),1)
  WARN += -Werror
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -Ilib -Ikernels \
  -DLMKIT_VERSION='"$(VERSION)"' -DHAVE_OPENBLAS \
  $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(BLAS_CFLAGS) $(CFLAGS)
ifeq ($(NATIVE),1)
  ALL_CFLAGS += -march=native
endif
ifeq ($(SAN),1)
  ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
# OpenBLAS is not linked: lib/nn/backend_blas.c dlopens it on first use
# (with its thread pool off); only its headers are needed here.
# libcurl (lib/llm) is linked --as-needed: commands that do not use it do not map it.
LIBS := $(shell pkg-config --libs jansson libpcre2-8 2>/dev/null || echo -ljansson -lpcre2-8) \
  -Wl,--as-needed $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -Wl,--no-as-needed -lm

CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
KERN_SRC := $(wildcard kernels/*.cu)
# The GPU code is a shared library of its own that the commands dlopen on
# first use (lib/nn/backend_cuda.h): they do not link libcudart or libcublas,
# so a CPU run never maps them.  It sits in lib/lmkit/ beside bin/, in the
# build tree and once installed.
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++
ifeq ($(CUDA),1)
  ifneq ($(KERN_SRC),)
    ALL_CFLAGS += -DHAVE_CUDA
    CUDA_SO := $(BUILD)/lib/lmkit/liblmkit-cuda.so
  endif
endif
LIBS += -ldl

LIB_SRC  := $(sort $(wildcard lib/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
KERN_OBJ := $(KERN_SRC:%.cu=$(BUILD)/obj/%.o)
CMD_SRC  := $(sort $(wildcard cmd/*.c))
# a command in a folder of its own: cmd/NAME/*.c, main() in cmd/NAME/main.c
CMD_DIRS := $(patsubst cmd/%/main.c,%,$(wildcard cmd/*/main.c))
CMD_DSRC := $(sort $(foreach d,$(CMD_DIRS),$(wildcard cmd/$(d)/*.c)))
CMDS     := $(sort $(CMD_SRC:cmd/%.c=%) $(CMD_DIRS))
BINS     := $(CMDS:%=$(BUILD)/bin/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAYS  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%)
MANS     := $(wildcard man/man1/*.1)
# Data shipped compressed in testdata/ (sources in testdata/PROVENANCE.md),
# decompressed into the build tree: the default rank file beside bin/ as it
# is installed ($(BUILD)/share/lmkit, found through /proc/self/exe), and the
# tests' tokenizer files in $(BUILD)/testdata.
DEFAULT_RANKS := $(BUILD)/share/lmkit/cl100k_base.tiktoken
FIXTURES := $(BUILD)/testdata/tiktoken/kimi-k2-instruct/tiktoken.model \
            $(patsubst testdata/tokenizers/%.tokenizer.json.xz,$(BUILD)/testdata/tokenizers/%/tokenizer.json,\
              $(wildcard testdata/tokenizers/*.tokenizer.json.xz)) \
            $(BUILD)/testdata/golden/metrics/pairs.jsonl \
            $(BUILD)/testdata/golden/align/align.jsonl \
            $(BUILD)/testdata/golden/optim/optim.safetensors
# xz when installed, else Python's lzma module (python3 is needed by the tests anyway)
UNXZ = { if command -v xz >/dev/null; then xz -dc $<; \
         else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]),sys.stdout.buffer)' $<; fi; }

.PHONY: all check check-san test format format-check fuzz fuzz-long bench demo install uninstall clean deps deps-check \
        completions gpu-check check-real-model announce
.SUFFIXES:
.SECONDARY:

all: announce $(BINS) $(CUDA_SO) $(DEFAULT_RANKS)

announce:
	@echo "lmkit $(VERSION): CC=$(CC) OpenMP=yes OpenBLAS=$(if $(BLAS_LIBS),yes,no)" \
	  "CUDA=$(if $(filter 1,$(CUDA)),yes ($(NVCC)),no$(if $(NVCC), (CUDA=0), (nvcc not found)))" \
	  "SAN=$(SAN) build=$(BUILD)"
ifneq ($(HAVE_PKGS),1)
	@echo "lmkit: jansson, PCRE2 or libcurl development files are missing" \
	  "(Debian: libjansson-dev libpcre2-dev libcurl4-openssl-dev);" \
	  "run 'make deps' (as root) or 'sudo apt-get install $(DEB_PKGS)'" >&2; exit 2
endif

$(BUILD)/share/lmkit/%: testdata/tiktoken/%.xz
	@mkdir -p $(@D)
	@$(UNXZ) >$@.tmp && mv $@.tmp $@

$(BUILD)/testdata/tiktoken/kimi-k2-instruct/tiktoken.model: testdata/tiktoken/kimi-k2-instruct.tiktoken.model.xz
	@mkdir -p $(@D)
	@$(UNXZ) >$@.tmp && mv $@.tmp $@

$(BUILD)/testdata/tokenizers/%/tokenizer.json: testdata/tokenizers/%.tokenizer.json.xz
	@mkdir -p $(@D)
	@$(UNXZ) >$@.tmp && mv $@.tmp $@

$(BUILD)/testdata/golden/%: testdata/golden/%.xz
	@mkdir -p $(@D)
	@$(UNXZ) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# the encoder's exp/GELU loops vectorise only when float compares may not
# trap; their AVX2 copies (lib/nn/vmath.h) use FMA when contraction is allowed
$(BUILD)/obj/lib/nn/ops.o $(BUILD)/obj/lib/nn/train.o: ALL_CFLAGS += -fno-trapping-math -ffp-contract=fast
# the AdamW loop vectorises only when sqrtf need not set errno (no change
# in results: the moments are never negative)
$(BUILD)/obj/lib/nn/optim.o: ALL_CFLAGS += -fno-math-errno

$(BUILD)/obj/kernels/%.o: kernels/%.cu
	@mkdir -p $(@D)
	$(NVCC) -O3 $(CUDA_ARCH) -Ikernels -Ilib -Xcompiler -fPIC,-Wall,-fvisibility=hidden -c $< -o $@

$(BUILD)/liblmkit.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# exports one symbol (kernels/lmkit_cuda.h); every undefined one must resolve
$(BUILD)/lib/lmkit/liblmkit-cuda.so: $(KERN_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS) -Wl,--no-undefined -Wl,-soname,liblmkit-cuda.so $^ $(CUDA_LIBS) -ldl -lm -o $@

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(BUILD)/liblmkit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(BUILD)/liblmkit.a $(LIBS) -o $@

define dir_cmd
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(filter cmd/$(1)/%,$(CMD_DSRC))) $(BUILD)/liblmkit.a
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $$(LDFLAGS) $$(filter %.o,$$^) $(BUILD)/liblmkit.a $$(LIBS) -o $$@
endef
$(foreach d,$(CMD_DIRS),$(eval $(call dir_cmd,$(d))))

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(BUILD)/liblmkit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(BUILD)/liblmkit.a $(LIBS) -o $@

# Fuzz targets built as plain replayers of their committed corpus.
$(BUILD)/tests/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(BUILD)/liblmkit.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=$(BUILD)/obj/%.d) $(CMD_DSRC:%.c=$(BUILD)/obj/%.d) $(UNIT_SRC:%.c=$(BUILD)/obj/%.d) \
  $(FUZZ_SRC:%.c=$(BUILD)/obj/%.d) $(BUILD)/obj/tests/fuzz/replay.d

# ---- dependencies ----
DEB_PKGS := build-essential pkg-config libjansson-dev libpcre2-dev libcurl4-openssl-dev libopenblas-dev bats bats-assert \
            bats-support clang clang-format libclang-rt-dev libomp-dev libxml2-utils python3 parallel jq \
            time mandoc xz-utils

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(DEB_PKGS); \
	else \
	  echo "make deps: not root; run:"; echo "  sudo apt-get install $(DEB_PKGS)"; exit 2; \
	fi

# Checks the dependencies and installs (as root) only what is missing; it
# never runs apt-get when everything is there.  Not root: prints the exact
# apt-get line and fails.  Targets that need the packages (check, demo,
# check-san) run it first and then re-invoke make, so that the pkg-config
# results read when this Makefile is parsed are those after the install.
deps-check:
	@missing=""; \
	command -v cc >/dev/null && command -v make >/dev/null || missing="$$missing build-essential"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists jansson 2>/dev/null || missing="$$missing libjansson-dev"; \
	pkg-config --exists libpcre2-8 2>/dev/null || missing="$$missing libpcre2-dev"; \
	pkg-config --exists libcurl 2>/dev/null || missing="$$missing libcurl4-openssl-dev"; \
	{ pkg-config --exists openblas 2>/dev/null || test -e /usr/include/x86_64-linux-gnu/cblas.h || test -e /usr/include/cblas.h; } || missing="$$missing libopenblas-dev"; \
	command -v bats >/dev/null || missing="$$missing bats"; \
	test -e /usr/lib/bats/bats-assert/load.bash || missing="$$missing bats-assert"; \
	test -e /usr/lib/bats/bats-support/load.bash || missing="$$missing bats-support"; \
	command -v xmllint >/dev/null || missing="$$missing libxml2-utils"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	{ parallel --version 2>/dev/null | grep -q 'GNU parallel'; } || missing="$$missing parallel"; \
	command -v jq >/dev/null || missing="$$missing jq"; \
	command -v clang-format >/dev/null || missing="$$missing clang-format"; \
	test -x /usr/bin/time || missing="$$missing time"; \
	command -v mandoc >/dev/null || command -v groff >/dev/null || missing="$$missing mandoc"; \
	if [ -n "$$missing" ]; then \
	  echo "lmkit: missing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "lmkit: not root; install them with:"; echo "  sudo apt-get install$$missing"; exit 2; \
	  fi; \
	fi

# ---- tests ----
check: deps-check
	@$(MAKE) --no-print-directory all-tests
	@BUILD=$(BUILD) tests/run

check-san:
	@$(MAKE) --no-print-directory deps-check
	@$(MAKE) --no-print-directory SAN=1 BUILD=$(BUILD)-san all-tests
	@BUILD=$(BUILD)-san SAN=1 tests/run

.PHONY: all-tests
all-tests: all fixtures $(UNITS) $(REPLAYS)

.PHONY: fixtures
fixtures: $(DEFAULT_RANKS) $(FIXTURES)

test: check

# the C layout of .clang-format (clang-format 14); make check runs format-check
format:
	@tests/format-check.sh --fix

format-check:
	@tests/format-check.sh

fuzz:
	@$(MAKE) --no-print-directory -C tests/fuzz BUILD=$(abspath $(BUILD))/fuzz

# every target 10 million executions on all cores, new coverage merged into the corpora
fuzz-long: fuzz
	@BUILD=$(BUILD) RUNS=10000000 MERGE=1 nice -n 19 tests/fuzz/run-fuzz

# ---- generated files ----
completions: all
	@mkdir -p completions/bash completions/zsh completions/fish
	@for c in $(CMDS); do \
	  $(BUILD)/bin/$$c --generate=complete-bash > completions/bash/$$c; \
	  $(BUILD)/bin/$$c --generate=complete-zsh > completions/zsh/_$$c; \
	  $(BUILD)/bin/$$c --generate=complete-fish > completions/fish/$$c.fish; \
	done; echo "completions/ regenerated for: $(CMDS)"

bench: all fixtures
	@for b in bench/*.sh; do echo "# $$b" >&2; BUILD=$(BUILD) sh $$b || exit $$?; done

# make re-invokes itself after deps-check: this Makefile's pkg-config
# results were read before the packages were installed
demo: deps-check
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh testdata/demo.sh

gpu-check:
	@BUILD=$(BUILD) sh tests/gpu-check.sh

# llmlingua's own six LLMLingua-2 cases on the released 2.2 GB checkpoint
# (not bundled, so not part of make check): make check-real-model MODEL=DIR
check-real-model: all
	@test -n "$(MODEL)" || { echo "make check-real-model: give MODEL=DIR, the" \
	  "llmlingua-2-xlm-roberta-large-meetingbank folder (huggingface-cli download" \
	  "microsoft/llmlingua-2-xlm-roberta-large-meetingbank)" >&2; exit 2; }
	@BUILD=$(BUILD) LMKIT_REAL_MODEL="$(MODEL)" python3 tests/golden/lingua_real_model.py

# ---- install ----
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/lmkit
	install -m 644 $(DEFAULT_RANKS) $(DESTDIR)$(PREFIX)/share/lmkit/
ifneq ($(CUDA_SO),)
	install -d $(DESTDIR)$(PREFIX)/lib/lmkit
	install -m 644 $(CUDA_SO) $(DESTDIR)$(PREFIX)/lib/lmkit/
endif
	for c in $(CMDS); do \
	  install -m 644 completions/bash/$$c $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$c && \
	  install -m 644 completions/zsh/_$$c $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$c && \
	  install -m 644 completions/fish/$$c.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$c.fish \
	  || exit 1; done

uninstall:
	for c in $(CMDS); do \
	  rm -f $(DESTDIR)$(PREFIX)/bin/$$c $(DESTDIR)$(PREFIX)/share/man/man1/$$c.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$c \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$c \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$c.fish; done
	rm -f $(DESTDIR)$(PREFIX)/lib/lmkit/liblmkit-cuda.so
	rmdir $(DESTDIR)$(PREFIX)/lib/lmkit 2>/dev/null || true
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/lmkit/,$(notdir $(DEFAULT_RANKS)))
	rmdir $(DESTDIR)$(PREFIX)/share/lmkit 2>/dev/null || true

clean:
	rm -rf $(BUILD) $(BUILD)-san
