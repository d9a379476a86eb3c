// Reads the header of a NumPy .npy file: enough to check an uploaded
// embedding matrix's dtype and shape without parsing the data.
export interface NpyHeader {
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  dataOffset: number;
}

export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new Error("not a .npy file (bad magic)");
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!dtype || !fortran || shape === undefined) throw new Error("not a .npy file (unreadable header)");
  return {
    dtype,
    fortranOrder: fortran === "True",
    shape: shape.split(",").map((s) => s.trim()).filter(Boolean).map(Number),
    dataOffset: headerStart + headerLength,
  };
}
