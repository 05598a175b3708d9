# SPDX-License-Identifier: MIT
# proto: protobuf-c schemas, generated into $(BUILD)/gen/proto/ (never committed).

PROTOC_C ?= protoc-c
PROTO_SRCS += proto/ftvm.proto

PROTO_GEN_C := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_SRCS))
PROTO_GEN_H := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.h,$(PROTO_SRCS))
PROTO_OBJS := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.o,$(PROTO_SRCS))

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto
	$(quiet) PROTOC $<
	@mkdir -p $(BUILD)/gen
	$(Q)$(PROTOC_C) --c_out=$(BUILD)/gen $<

# Generated code is not held to the project's warning set.
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h
	$(quiet) CC $@
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 -O2 -g -MMD -MP -c -o $@ $<
