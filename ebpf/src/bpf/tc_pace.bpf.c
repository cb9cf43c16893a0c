/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tc_pace: EDT (earliest departure time) pacing stamps on egress. For every UDP datagram
 * whose (destination address, destination port) is in pace_flows, it sets
 *     departure = max(now, next); skb->tstamp = departure; next = departure + len * 1e9 / rate
 * where len is the frame length seen at TC (skb->len) and rate is in bytes per second.
 * The fq qdisc (or any EDT-aware qdisc / NIC) then holds each packet until its stamp.
 * Without such a qdisc the stamps are carried but not enforced. Packets are never dropped
 * or changed otherwise; the program always returns TC_ACT_UNSPEC, which lets the next TCX
 * program or cls_bpf filter run and otherwise lets the packet go on.
 *
 * Maps (filled by punktfunk_ebpf::TcPacer):
 *   pace_flows  HASH  struct pace_key -> struct pace_state (rate + next departure, locked)
 *   pace_stats  PERCPU_ARRAY u64 counters, see PACE_* below */
#include "parse.h"
#include <linux/pkt_cls.h>

#define PACE_STAMPED 0
#define PACE_UNPACED 1
#define PACE_NSTATS 2

struct pace_key {
	__u8 daddr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u16 dport;    /* host byte order */
	__u16 pad;
};

struct pace_state {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 rate_bytes_per_sec;
	__u64 next_ns; /* CLOCK_MONOTONIC ns: departure time of the next packet */
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pace_key);
	__type(value, struct pace_state);
} pace_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PACE_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} pace_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&pace_stats, &idx);
	if (c)
		*c += 1;
}

#define PULL_LEN 128

SEC("classifier")
int tc_pace(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct pf_udp udp;
	struct pace_key key = {};
	struct pace_state *st;
	__u64 now, departure, len;

	/* Headers of locally generated UDP are linear; make sure anyway. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + PULL_LEN > data_end && skb->len > (__u32)(data_end - data))
		bpf_skb_pull_data(skb, skb->len < PULL_LEN ? skb->len : PULL_LEN);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	if (pf_parse_udp(data, data_end, &udp) < 0)
		goto unpaced;
	__builtin_memcpy(key.daddr, udp.daddr, 16);
	key.dport = udp.dport;
	st = bpf_map_lookup_elem(&pace_flows, &key);
	if (!st)
		goto unpaced;

	now = bpf_ktime_get_ns();
	len = skb->len;
	bpf_spin_lock(&st->lock);
	if (st->rate_bytes_per_sec == 0) {
		bpf_spin_unlock(&st->lock);
		goto unpaced;
	}
	departure = st->next_ns > now ? st->next_ns : now;
	st->next_ns = departure + len * 1000000000ULL / st->rate_bytes_per_sec;
	st->packets += 1;
	st->bytes += len;
	bpf_spin_unlock(&st->lock);

	/* Never move a packet earlier than a stamp someone else already gave it. */
	if (skb->tstamp < departure)
		skb->tstamp = departure;
	count(PACE_STAMPED);
	return TC_ACT_UNSPEC;

unpaced:
	count(PACE_UNPACED);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
