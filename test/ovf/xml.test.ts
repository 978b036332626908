/**
 * The XML serializer against libxml2: `xmllint --noout` must accept what we
 * write (well-formed, namespace-well-formed), and `xmllint --xpath` must read
 * back every text and attribute value exactly, for awkward strings too.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MkdiskError } from "../../src/bin/errors.js";
import { el, serializeXml, textEl } from "../../src/ovf/xml.js";
import { run, runOk, tempDir } from "../helpers/tools.js";

const dir = tempDir("mkdisk-xml-");
afterAll(() => dir.cleanup());
let n = 0;
function lint(xml: string): { status: number; stderr: string } {
  const p = join(dir.path, `${n++}.xml`);
  writeFileSync(p, xml);
  const r = run("xmllint", ["--noout", p]);
  return { status: r.status, stderr: r.stderr };
}
function xpath(xml: string, expr: string): string {
  const p = join(dir.path, `${n++}.xml`);
  writeFileSync(p, xml);
  // xmllint prints a string result followed by one newline.
  const out = runOk("xmllint", ["--xpath", expr, p]);
  expect(out.endsWith("\n")).toBe(true);
  return out.slice(0, -1);
}

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as MkdiskError).code;
  }
  return undefined;
};

describe("xml serializer", () => {
  it("writes a fixed layout", () => {
    const doc = el("a:root", { "xmlns:a": "urn:a", x: 1 }, el("a:empty"), textEl("t", "v"));
    expect(serializeXml(doc)).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<a:root xmlns:a="urn:a" x="1">\n  <a:empty/>\n  <t>v</t>\n</a:root>\n');
  });

  it("xmllint reads back awkward text and attribute values exactly (property)", () => {
    // Strings over XML's allowed characters, weighted toward the ones that need escaping.
    const ch = fc.oneof(
      fc.constantFrom("&", "<", ">", '"', "'", "\t", "\n", "\r", " ", "]]>", "&amp;", "é", "\u{1F600}", "\u2028", "\uFFFD"),
      fc.string({ maxLength: 3 }),
    );
    const value = fc.array(ch, { maxLength: 12 }).map((a) => a.join("").replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g, ""));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (values) => {
        const doc = el("r", { "xmlns:p": "urn:p" }, ...values.map((v, i) => el("p:e", { id: i, "p:v": v }, v === "" ? undefined : v)));
        const xml = serializeXml(doc);
        expect(lint(xml)).toEqual({ status: 0, stderr: "" });
        values.forEach((v, i) => {
          // XPath string() of the attribute and of the element text.
          const attr = xpath(xml, `string(/r/*[@id="${i}"]/@*[local-name()="v"])`);
          const text = xpath(xml, `string(/r/*[@id="${i}"])`);
          // \r in text is written as &#13; and so survives end-of-line normalization.
          expect(attr).toBe(v);
          expect(text).toBe(v);
        });
      }),
      { numRuns: 8 },
    );
  });

  it("refuses characters XML cannot hold", () => {
    expect(code(() => serializeXml(textEl("a", "x\u0001y")))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("a", { b: "\uffff" })))).toBe("E_FORMAT");
    expect(code(() => serializeXml(textEl("a", "\ud800")))).toBe("E_FORMAT");
  });

  it("refuses undeclared prefixes, duplicate attributes and bad names", () => {
    expect(code(() => serializeXml(el("p:a")))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("a", { "q:b": "1" })))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("a", { "xmlns:p": "urn:x", "xmlns:q": "urn:x", "p:b": "1", "q:b": "2" })))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("1a")))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("a b")))).toBe("E_FORMAT");
    expect(code(() => serializeXml(el("a", {}, "text", el("b"))))).toBe("E_FORMAT");
    // A prefix declared on an ancestor is in scope; xml: is predeclared.
    expect(lint(serializeXml(el("a", { "xmlns:p": "urn:p", "xml:lang": "en" }, el("p:b", { "p:c": 1 }))))).toEqual({ status: 0, stderr: "" });
  });

  it("the oracle itself flags an undeclared prefix (so a pass means something)", () => {
    // libxml2 reports namespace errors on stderr but exits 0: tests check both.
    const r = lint('<?xml version="1.0"?>\n<a><p:b/></a>\n');
    expect(r.stderr).toMatch(/[Nn]amespace/);
  });
});
