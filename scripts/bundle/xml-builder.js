// @aws-sdk/xml-builder for the deploy bundle (wrangler.toml [alias]): its own exports, with the
// pure-JS XML parser it uses on Node in place of the browser one (which needs a DOMParser).
// JavaScript, because dist-es carries no type declarations.
export * from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlNode.js";
export * from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlText.js";
export { parseXML } from "../../node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js";
