import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGpuList } from "../src/gpus";

describe("parseGpuList", () => {
  it("reads nvidia-smi csv without header or units", () => {
    const sample = "0, NVIDIA H200, 143771\n1, NVIDIA A100-SXM4-80GB, 81920\n";
    assert.deepEqual(parseGpuList(sample), [
      { index: 0, name: "NVIDIA H200", memory_mib: 143771 },
      { index: 1, name: "NVIDIA A100-SXM4-80GB", memory_mib: 81920 },
    ]);
  });
  it("keeps commas inside a name and unknown memory as null", () => {
    assert.deepEqual(parseGpuList("2, Tesla V100, PCIe, [N/A]\r\n"), [{ index: 2, name: "Tesla V100, PCIe", memory_mib: null }]);
  });
  it("ignores blank and malformed lines", () => {
    assert.deepEqual(parseGpuList("\nNo devices were found\nx, GPU, 10\n"), []);
  });
});
