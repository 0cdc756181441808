package webhook

import (
	"net/netip"
	"testing"
)

func TestForbiddenAddr(t *testing.T) {
	forbidden := []string{
		// IPv4
		"0.0.0.0", "0.1.2.3", // unspecified, "this network"
		"127.0.0.1", "127.255.255.254", // loopback
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.255", // private
		"169.254.0.1", "169.254.169.254", // link-local, metadata
		"100.64.0.1", "100.127.255.255", "100.100.100.200", // CGNAT, Alibaba metadata
		"192.0.0.1", "192.0.0.170", // IETF protocol assignments
		"192.0.2.1", "198.51.100.1", "203.0.113.1", // documentation
		"192.88.99.1",                // 6to4 relay
		"198.18.0.1", "198.19.255.1", // benchmarking
		"224.0.0.1", "239.255.255.250", // multicast
		"240.0.0.1", "255.255.255.255", // reserved, broadcast
		// IPv6
		"::", "::1", // unspecified, loopback
		"::127.0.0.1",                                                   // IPv4-compatible
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", // IPv4-mapped
		"64:ff9b::7f00:1", "64:ff9b::5db8:d822", "64:ff9b:1::1", // NAT64
		"2002:7f00:1::1", "2002:5db8:d822::1", // 6to4
		"2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
		"2001:2::1", "2001:db8::1", "3fff::1", // benchmarking, documentation
		"100::1",                                   // discard-only
		"fc00::1", "fd12:3456::1", "fd00:ec2::254", // unique local, AWS metadata
		"fe80::1", "fe80::1%eth0", // link-local
		"ff02::1", "ff05::1:3", // multicast
	}
	allowed := []string{
		"93.184.216.34", "1.1.1.1", "8.8.8.8", "52.94.236.248", "100.63.255.255", "100.128.0.1",
		"172.15.255.255", "172.32.0.1", "192.0.1.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
		"::ffff:93.184.216.34",
		"2606:2800:220:1::1", "2a00:1450:4001:82b::200e", "2001:200::1", "2600:1f18::1",
	}
	for _, s := range forbidden {
		if !ForbiddenAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed, want forbidden", s)
		}
	}
	for _, s := range allowed {
		if ForbiddenAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is forbidden, want allowed", s)
		}
	}
	if !ForbiddenAddr(netip.Addr{}) {
		t.Error("the invalid zero Addr is allowed")
	}
}

func TestForbiddenPrefixesParse(t *testing.T) {
	for _, p := range append(append([]netip.Prefix{}, forbidden4...), forbidden6...) {
		if p != p.Masked() {
			t.Errorf("%v has host bits set", p)
		}
		if !ForbiddenAddr(p.Addr()) {
			t.Errorf("first address of %v is allowed", p)
		}
	}
	for _, a := range metadata {
		if !ForbiddenAddr(a) {
			t.Errorf("metadata address %v is allowed", a)
		}
	}
}
