/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* xdp_steer: sends UDP datagrams for the host's datapath ports into the AF_XDP socket
 * registered for the receiving queue; everything else continues into the kernel stack
 * untouched (XDP_PASS).
 *
 * Maps (filled by punktfunk_ebpf::XdpSteering):
 *   steer_ports  HASH  u16 port (host order) -> u8 (any value: present = steer)
 *   steer_xsks   XSKMAP rx queue index -> AF_XDP socket
 *   steer_stats  PERCPU_ARRAY u64 counters, see STEER_* below
 *
 * A matching datagram on a queue without a registered socket is passed to the kernel
 * (bpf_redirect_map's fallback action is XDP_PASS) and counted as STEER_NO_SOCKET. */
#include "parse.h"

#define STEER_REDIRECTED 0
#define STEER_PASSED 1
#define STEER_NO_SOCKET 2
#define STEER_NSTATS 3

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} steer_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} steer_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} steer_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&steer_stats, &idx);
	if (c)
		*c += 1;
}

SEC("xdp")
int xdp_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pf_udp udp;
	long action;

	if (pf_parse_udp(data, data_end, &udp) < 0 ||
	    !bpf_map_lookup_elem(&steer_ports, &udp.dport)) {
		count(STEER_PASSED);
		return XDP_PASS;
	}
	action = bpf_redirect_map(&steer_xsks, ctx->rx_queue_index, XDP_PASS);
	count(action == XDP_REDIRECT ? STEER_REDIRECTED : STEER_NO_SOCKET);
	return action;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
