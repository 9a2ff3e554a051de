import { describe, expect, it } from "vitest";
import { ENTITY_TAG_LIST, evaluate, notModified, parseEntityTags } from "./preconditions.ts";

describe("entity-tag preconditions", () => {
  it("accepts the RFC 9110 list syntax and refuses bare versions", () => {
    for (const ok of ["*", '"3"', 'W/"3"', '"1", "2"', ' "1" ,W/"2" ']) expect(ENTITY_TAG_LIST.test(ok)).toBe(true);
    for (const bad of ["3", '"3', '"3",', "**", '"a"b"']) expect(ENTITY_TAG_LIST.test(bad)).toBe(false);
  });

  it("compares If-Match strongly and If-None-Match weakly", () => {
    const weak = parseEntityTags('W/"4"');
    expect(evaluate({ ifMatch: weak }, 4)).toBe("failed");
    expect(evaluate({ ifNoneMatch: weak }, 4)).toBe("failed");
    expect(notModified(weak, 4)).toBe(true);
  });

  it("passes If-Match only for an existing version it names, and If-None-Match: * only when absent", () => {
    const list = parseEntityTags('"2", "5"');
    expect(evaluate({ ifMatch: list }, 5)).toBe("pass");
    expect(evaluate({ ifMatch: list }, 3)).toBe("failed");
    expect(evaluate({ ifMatch: parseEntityTags("*") }, null)).toBe("failed");
    expect(evaluate({ ifNoneMatch: parseEntityTags("*") }, null)).toBe("pass");
    expect(evaluate({ ifNoneMatch: parseEntityTags("*") }, 1)).toBe("failed");
    expect(evaluate({}, 1)).toBe("required");
  });

  it("never matches a tag that is not a version", () => {
    const odd = parseEntityTags('"abc", "0", "01"');
    expect(odd?.all).toEqual([]);
    expect(evaluate({ ifMatch: odd }, 1)).toBe("failed");
  });
});
