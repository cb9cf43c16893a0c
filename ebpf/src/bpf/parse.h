/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Shared packet parsing for punktfunk's eBPF programs: Ethernet (up to two VLAN tags),
 * IPv4 (any IHL, options skipped) or IPv6 (hop-by-hop, routing and destination-options
 * extension headers skipped), then UDP. Fragments are never treated as UDP datagrams:
 * a non-first fragment carries no UDP header and a first fragment is only part of a
 * datagram, so both go to the kernel stack. Every access is bounds-checked against
 * data_end so the verifier accepts it and truncated packets are simply "not UDP". */
#ifndef PUNKTFUNK_PARSE_H
#define PUNKTFUNK_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef IP_MF
#define IP_MF 0x2000
#endif
#ifndef IP_OFFSET
#define IP_OFFSET 0x1FFF
#endif

struct vlan_hdr_pf {
	__be16 tci;
	__be16 encap_proto;
};

/* What the programs need to know about a UDP datagram. */
struct pf_udp {
	/* Destination address; IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
	__u8 daddr[16];
	/* Destination port, host byte order. */
	__u16 dport;
};

/* Returns 0 and fills *out when [data, data_end) is an unfragmented UDP datagram over
 * IPv4 or IPv6 whose UDP header lies within the buffer; -1 otherwise. */
static __always_inline int pf_parse_udp(void *data, void *data_end, struct pf_udp *out)
{
	struct ethhdr *eth = data;
	void *cursor;
	__u16 proto;
	__u8 l4proto;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return -1;
	proto = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
			struct vlan_hdr_pf *vh = cursor;
			if ((void *)(vh + 1) > data_end)
				return -1;
			proto = vh->encap_proto;
			cursor = vh + 1;
		}
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = cursor;
		__u32 ihl_bytes;
		if ((void *)(iph + 1) > data_end)
			return -1;
		if (iph->version != 4 || iph->ihl < 5)
			return -1;
		if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return -1;
		l4proto = iph->protocol;
		__builtin_memset(out->daddr, 0, 10);
		out->daddr[10] = 0xff;
		out->daddr[11] = 0xff;
		__builtin_memcpy(&out->daddr[12], &iph->daddr, 4);
		ihl_bytes = iph->ihl * 4;
		cursor = (void *)iph + ihl_bytes;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (ip6->version != 6)
			return -1;
		__builtin_memcpy(out->daddr, &ip6->daddr, 16);
		l4proto = ip6->nexthdr;
		cursor = ip6 + 1;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (l4proto == IPPROTO_HOPOPTS || l4proto == IPPROTO_ROUTING ||
			    l4proto == IPPROTO_DSTOPTS) {
				__u8 *ext = cursor;
				if ((void *)(ext + 2) > data_end)
					return -1;
				l4proto = ext[0];
				cursor = ext + ((__u32)ext[1] + 1) * 8;
			}
		}
		/* IPPROTO_FRAGMENT (and anything still unknown) falls out here as not-UDP. */
	} else {
		return -1;
	}

	if (l4proto != IPPROTO_UDP)
		return -1;
	udp = cursor;
	if ((void *)(udp + 1) > data_end)
		return -1;
	out->dport = bpf_ntohs(udp->dest);
	return 0;
}

#endif
