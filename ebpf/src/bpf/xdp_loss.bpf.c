/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* xdp_loss: a loss injector for test receivers. UDP datagrams to a port in loss_ports are
 * dropped (XDP_DROP) according to the pattern in loss_config; everything else passes.
 *
 *   LOSS_RANDOM: x ^= x << 13; x ^= x >> 7; x ^= x << 17 (xorshift64) once per matching
 *                packet; drop when ((x >> 32) * 1000000) >> 32 < per_million.
 *   LOSS_BURST:  n = index of the matching packet (0, 1, 2, ...); drop when n % every < drop
 *                (the first `drop` of every `every` packets).
 *
 * The generator state and packet index live in one global, spin-locked map entry so the
 * sequence is exactly reproducible from the seed whichever CPU sees each packet; the
 * loader resets it on every configure().
 *
 * Maps (filled by punktfunk_ebpf::LossInjector):
 *   loss_ports   HASH  u16 port (host order) -> u8
 *   loss_config  ARRAY[1] struct loss_config
 *   loss_state   ARRAY[1] struct loss_state
 *   loss_stats   PERCPU_ARRAY u64 counters, see LOSS_STAT_* below */
#include "parse.h"

#define LOSS_OFF 0
#define LOSS_RANDOM 1
#define LOSS_BURST 2

#define LOSS_STAT_PASSED 0
#define LOSS_STAT_DROPPED 1
#define LOSS_STAT_OTHER 2
#define LOSS_NSTATS 3

struct loss_config {
	__u32 mode;
	__u32 per_million;
	__u32 drop;
	__u32 every;
};

struct loss_state {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 rng;
	__u64 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} loss_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_config);
} loss_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_state);
} loss_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOSS_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} loss_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&loss_stats, &idx);
	if (c)
		*c += 1;
}

SEC("xdp")
int xdp_loss(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pf_udp udp;
	struct loss_config *cfg;
	struct loss_state *st;
	__u32 zero = 0;
	__u64 x;
	int drop = 0;

	if (pf_parse_udp(data, data_end, &udp) < 0 ||
	    !bpf_map_lookup_elem(&loss_ports, &udp.dport)) {
		count(LOSS_STAT_OTHER);
		return XDP_PASS;
	}
	cfg = bpf_map_lookup_elem(&loss_config, &zero);
	st = bpf_map_lookup_elem(&loss_state, &zero);
	if (!cfg || !st)
		return XDP_PASS;

	__u32 mode = cfg->mode;
	__u32 per_million = cfg->per_million;
	__u32 burst_drop = cfg->drop;
	__u32 every = cfg->every;

	bpf_spin_lock(&st->lock);
	if (mode == LOSS_RANDOM) {
		x = st->rng;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		st->rng = x;
		drop = (((x >> 32) * 1000000ULL) >> 32) < per_million;
	} else if (mode == LOSS_BURST && every != 0) {
		drop = (st->seq % every) < burst_drop;
	}
	st->seq += 1;
	bpf_spin_unlock(&st->lock);

	if (drop) {
		count(LOSS_STAT_DROPPED);
		return XDP_DROP;
	}
	count(LOSS_STAT_PASSED);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
