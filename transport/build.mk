# SPDX-License-Identifier: MIT
# transport: the TLS replication channel (libxport.a), its tool, tests, fuzzers and benchmark.

XPORT_OBJS += transport/log.o
XPORT_OBJS += transport/evloop.o
XPORT_OBJS += transport/frame.o
XPORT_OBJS += transport/tls.o
XPORT_OBJS += transport/conn.o
XPORT_OBJS += transport/session.o
XPORT_OBJS += transport/xport.o
XPORT_OBJS += transport/certs.o
# The one CRC-32C (the log format's checksum, also a LogChunk's) lives with the log format in hv/.
XPORT_OBJS += hv/crc32c.o

LIBXPORT := $(BUILD)/libxport.a
XPORT_TOOL := $(BUILD)/ftvm-xport

all: $(LIBXPORT) $(XPORT_TOOL)

# Everything in transport/ may include the generated protobuf headers.
$(addprefix $(BUILD)/,$(XPORT_OBJS)) $(BUILD)/transport/tools/xport_tool.o \
$(BUILD)/transport/tests/test_xport.o $(BUILD)/transport/bench/bench_xport.o: | $(PROTO_GEN_H)

$(LIBXPORT): $(addprefix $(BUILD)/,$(XPORT_OBJS)) $(PROTO_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(XPORT_TOOL): $(BUILD)/transport/tools/xport_tool.o $(LIBXPORT)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

UNIT_TESTS += $(BUILD)/transport/tests/test_xport
UNIT_TESTS += $(BUILD)/transport/tests/test_frame

$(BUILD)/transport/tests/test_%: $(BUILD)/transport/tests/test_%.o $(LIBXPORT)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/transport/tests/test_frame.o: | $(PROTO_GEN_H)

SYSTEM_TESTS += transport/tests/netns.sh
SYSTEM_TESTS += transport/tests/certs-cli.sh
SYSTEM_TESTS += transport/fuzz/smoke.sh
SYSTEM_TEST_DEPS += $(XPORT_TOOL)

# Benchmark: loopback TLS throughput and Ack round trip.
BENCHES += bench-transport
XPORT_BENCH := $(BUILD)/transport/bench/bench_xport
$(XPORT_BENCH): $(BUILD)/transport/bench/bench_xport.o $(LIBXPORT)
	$(quiet) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
.PHONY: bench-transport
bench-transport: $(XPORT_BENCH)
	$(Q)$(XPORT_BENCH)

# libFuzzer targets: clang, ASan, UBSan, into $(BUILD)/fuzz/.
XPORT_FUZZ_SRCS := $(addsuffix .c,$(basename $(XPORT_OBJS))) $(PROTO_GEN_C)
XPORT_FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(CPPFLAGS)
XPORT_FUZZ_MSGS := hello chunk ack progress heartbeat goodbye
XPORT_FUZZERS := $(BUILD)/fuzz/fuzz_frame $(addprefix $(BUILD)/fuzz/fuzz_msg_,$(XPORT_FUZZ_MSGS))
.PHONY: fuzz-transport
fuzz-transport: $(XPORT_FUZZERS)
fuzz: fuzz-transport
$(BUILD)/fuzz/fuzz_frame: transport/fuzz/fuzz_frame.c transport/fuzz/fuzz_common.h $(XPORT_FUZZ_SRCS) | $(PROTO_GEN_H)
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(XPORT_FUZZ_FLAGS) -o $@ transport/fuzz/fuzz_frame.c $(XPORT_FUZZ_SRCS) $(PKG_LIBS)
$(BUILD)/fuzz/fuzz_msg_%: transport/fuzz/fuzz_msg.c transport/fuzz/fuzz_common.h $(XPORT_FUZZ_SRCS) | $(PROTO_GEN_H)
	$(quiet) FUZZ $@
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(XPORT_FUZZ_FLAGS) -DFUZZ_MSG=$* -o $@ transport/fuzz/fuzz_msg.c $(XPORT_FUZZ_SRCS) $(PKG_LIBS)
