export * from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlNode.js";
export * from "../../node_modules/@aws-sdk/xml-builder/dist-es/XmlText.js";
export { parseXML } from "../../node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js";
