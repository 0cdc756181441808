package webhook

import "net/netip"

// forbidden4 are the IPv4 ranges a webhook may not be sent to: anything that
// is not a public unicast address.
var forbidden4 = prefixes(
	"0.0.0.0/8",       // "this network", including the unspecified 0.0.0.0
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // carrier-grade NAT, including Alibaba Cloud metadata 100.100.100.200
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, including cloud metadata 169.254.169.254
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // 6to4 relay anycast
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, including the broadcast 255.255.255.255
)

// forbidden6 are the IPv6 ranges inside global unicast (2000::/3) a webhook
// may not be sent to. Every address outside 2000::/3 is forbidden too, which
// covers the unspecified ::, loopback ::1, IPv4-compatible ::/96, NAT64
// 64:ff9b::/96 and 64:ff9b:1::/48, discard-only 100::/64, unique local
// fc00::/7 (including AWS metadata fd00:ec2::254), link-local fe80::/10 and
// multicast ff00::/8.
var forbidden6 = prefixes(
	"2001::/23",     // IETF protocol assignments, including Teredo 2001::/32 and benchmarking 2001:2::/48
	"2001:db8::/32", // documentation
	"2002::/16",     // 6to4, which embeds an IPv4 address
	"3fff::/20",     // documentation
)

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// metadata are the cloud instance metadata addresses. The ranges above
// already hold them; listing them keeps them refused whatever those become.
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// ForbiddenAddr reports whether a webhook may not be sent to addr: a
// loopback, private, link-local, shared (CGNAT), multicast, unspecified,
// broadcast, reserved, benchmarking, documentation or cloud metadata address,
// or an IPv6 transition address that can lead to one (NAT64, 6to4, Teredo).
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged by its IPv4 address;
// a zone is ignored. The invalid zero Addr is forbidden.
func ForbiddenAddr(addr netip.Addr) bool {
	if !addr.IsValid() {
		return true
	}
	addr = addr.WithZone("").Unmap()
	for _, m := range metadata {
		if addr == m {
			return true
		}
	}
	if addr.Is4() {
		return inAny(forbidden4, addr)
	}
	return !globalUnicast6.Contains(addr) || inAny(forbidden6, addr)
}

func inAny(ps []netip.Prefix, addr netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func prefixes(s ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(s))
	for i, p := range s {
		ps[i] = netip.MustParsePrefix(p)
	}
	return ps
}
