import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sourceAddressKey } from "../../src/exchange/source-address.js";

describe("sourceAddressKey: the address a throttle counts a peer under", () => {
  it("keeps IPv4, also IPv4-mapped IPv6", () => {
    assert.equal(sourceAddressKey("192.0.2.7"), "192.0.2.7");
    assert.equal(sourceAddressKey("::ffff:192.0.2.7"), "192.0.2.7");
  });

  it("counts IPv6 by its /64, whatever its spelling, so one host cannot rotate through its addresses", () => {
    assert.equal(sourceAddressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(sourceAddressKey("2001:0db8:0001:0002:ffff:0:0:9"), "2001:db8:1:2::/64");
    assert.equal(sourceAddressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
    assert.equal(sourceAddressKey("::1"), "0:0:0:0::/64");
    assert.notEqual(sourceAddressKey("2001:db8:1:2::1"), sourceAddressKey("2001:db8:1:3::1"));
  });

  it("puts calls without a connection under one key", () => {
    assert.equal(sourceAddressKey(undefined), sourceAddressKey(""));
  });
});
