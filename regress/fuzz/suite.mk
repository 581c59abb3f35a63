# regress/fuzz: libFuzzer harnesses, their committed seed corpora
# (corpus/HARNESS/), and two ways to run them:
#
#   make check-fuzz-replay  in SUITES: every corpus file through every
#                           harness, linked with the plain driver
#                           replay.c and built by the normal compiler, in
#                           build/std and build/san; "N passed, N failed"
#   make fuzz               clang + libFuzzer + ASan/UBSan (build/fuzz),
#                           each harness for FUZZ_SECONDS (default 60),
#                           one at a time; FUZZ_TARGETS picks some.  Not
#                           part of make check.
#
# A crash that make fuzz finds: copy its input from
# build/fuzz/artifacts/HARNESS/ into corpus/HARNESS/, fix the bug, and
# the replay suite keeps it fixed.

FUZZ_HARNESSES	= imsg shipper_conf receiver_conf http tar
FUZZ_BINDIR	= $(BUILD)/fuzz
FUZZ_BINS	= $(FUZZ_HARNESSES:%=$(FUZZ_BINDIR)/%)
FUZZ_OBJDIR	= $(BUILD)/regress/fuzz

FUZZ_CC		?= clang-14
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	?= $(FUZZ_HARNESSES)
FUZZ_SANFLAGS	 = -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer

# FUZZER=1 (set by make fuzz) links libFuzzer's main; otherwise the
# harnesses get replay.c's.
ifeq ($(FUZZER),1)
FUZZ_ENGINE	 =
FUZZ_LINK	 = -fsanitize=fuzzer
else
FUZZ_ENGINE	 = $(FUZZ_OBJDIR)/replay.o
FUZZ_LINK	 =
endif
FUZZ_COMMON	 = $(FUZZ_OBJDIR)/fuzz_util.o $(FUZZ_ENGINE)
# Only what the code under test calls, so the harnesses build with
# clang without the rest of common/.
FUZZ_LOGUTIL	 = $(BUILD)/common/log.o $(BUILD)/common/util.o

# libarchive (the tar harness's independent reader) also exports a
# "struct archive" API with an archive_free(); the harness's copy of the
# packer's writer is compiled with its entry points renamed.
FUZZ_ARC_RENAME	 = -Darchive_init=packer_archive_init \
		   -Darchive_open=packer_archive_open \
		   -Darchive_add=packer_archive_add \
		   -Darchive_finish=packer_archive_finish \
		   -Darchive_error=packer_archive_error \
		   -Darchive_free=packer_archive_free
LIBARCHIVE_CFLAGS = $(shell pkg-config --cflags libarchive)
LIBARCHIVE_LIBS	  = $(shell pkg-config --libs libarchive)

# clang and its libFuzzer runtime for make fuzz; libarchive for the tar
# harness, which the replay suite builds too.
DEB_PKGS	+= clang-14 libclang-rt-14-dev libarchive-dev

$(FUZZ_OBJDIR)/%.o: regress/fuzz/%.c regress/fuzz/fuzz.h \
    regress/fuzz/fuzz_tar.h $(wildcard common/*.h receiver/*.h packer/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -Ireceiver $(RECEIVER_CFLAGS) \
	    $(LIBARCHIVE_CFLAGS) $(FUZZ_XFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(FUZZ_OBJDIR)/fuzz_tar.o: FUZZ_XFLAGS = $(FUZZ_ARC_RENAME)

$(FUZZ_OBJDIR)/packer_archive.o: packer/archive.c \
    $(wildcard common/*.h packer/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(FUZZ_ARC_RENAME) $(ALL_CFLAGS) -c -o $@ $<

$(FUZZ_BINDIR)/imsg: $(FUZZ_OBJDIR)/fuzz_imsg.o $(FUZZ_COMMON) \
    $(BUILD)/common/imsg.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $^ $(PKG_LIBS)

$(FUZZ_BINDIR)/shipper_conf: $(FUZZ_OBJDIR)/fuzz_shipper_conf.o \
    $(FUZZ_COMMON) $(BUILD)/parent/parse.o $(BUILD)/parent/config.o \
    $(FUZZ_LOGUTIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $^ $(PKG_LIBS)

$(FUZZ_BINDIR)/receiver_conf: $(FUZZ_OBJDIR)/fuzz_receiver_conf.o \
    $(FUZZ_COMMON) $(BUILD)/receiver/parse.o $(BUILD)/receiver/config.o \
    $(FUZZ_LOGUTIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $^ $(RECEIVER_LIBS)

$(FUZZ_BINDIR)/http: $(FUZZ_OBJDIR)/fuzz_http.o $(FUZZ_COMMON) \
    $(BUILD)/receiver/http.o $(FUZZ_LOGUTIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $^ $(RECEIVER_LIBS)

$(FUZZ_BINDIR)/tar: $(FUZZ_OBJDIR)/fuzz_tar.o $(FUZZ_OBJDIR)/fuzz_tar_read.o \
    $(FUZZ_COMMON) $(FUZZ_OBJDIR)/packer_archive.o $(BUILD)/packer/tar.o \
    $(FUZZ_LOGUTIL)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $(FUZZ_LINK) -o $@ $^ $(PKG_LIBS) \
	    $(LIBARCHIVE_LIBS)

.PHONY: check-fuzz-replay fuzz fuzz-build fuzz-seeds

SUITES	+= check-fuzz-replay

check-fuzz-replay: $(FUZZ_BINS)
	@sh regress/fuzz/run.sh $(abspath $(FUZZ_BINDIR))

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
		echo "make fuzz: $(FUZZ_CC) not found (Debian: clang-14," \
		    "libclang-rt-14-dev; make deps installs them)" >&2; \
		exit 1; }
	@$(MAKE) --no-print-directory FUZZER=1 BUILD=build/fuzz \
	    CC=$(FUZZ_CC) CFLAGS="-O1 -g" SANFLAGS="$(FUZZ_SANFLAGS)" \
	    fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh regress/fuzz/fuzz.sh \
	    $(abspath build/fuzz/fuzz) $(FUZZ_TARGETS)

# The binary seeds (corpus/imsg/gen-*, corpus/tar/gen-*) come from
# mkseeds.c; rerun after changing an input language.
fuzz-seeds: $(FUZZ_BINDIR)/mkseeds
	$(FUZZ_BINDIR)/mkseeds regress/fuzz/corpus

$(FUZZ_BINDIR)/mkseeds: $(FUZZ_OBJDIR)/mkseeds.o
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
