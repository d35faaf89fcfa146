/**
 * The test signal's elementary streams, built once per signal (setup, not the
 * hot path): the H.264 access unit of a video frame (a 16x16 grey IDR picture
 * and the header of the filler NAL unit that pads the frame's PES) and the
 * silent AAC frame (ADTS) of an audio PES. Real enough that decoders
 * (ffprobe) accept the stream. Imports nothing.
 */

// ---- the video elementary stream ---------------------------------------------------

/**
 * Bits for the H.264 headers, MSB first, with Exp-Golomb codes (setup only).
 */
class BitWriter {
  readonly bytes: number[] = [];
  #byte = 0;
  #bits = 0;
  u(value: number, bits: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.#byte = (this.#byte << 1) | ((value >>> i) & 1);
      if (++this.#bits === 8) {
        this.bytes.push(this.#byte);
        this.#byte = 0;
        this.#bits = 0;
      }
    }
    return this;
  }
  /** ue(v): codeNum v as (leading zeros, 1, info bits). */
  ue(value: number): this {
    const x = value + 1;
    const length = 31 - Math.clz32(x);
    return this.u(0, length).u(x, length + 1);
  }
  /** se(v): 0, 1, -1, 2, -2 ... as codeNum 0, 1, 2, 3, 4 ... */
  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }
  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing(): number[] {
    return this.u(1, 1).align();
  }
  /** Zeros to the byte boundary. */
  align(): number[] {
    while (this.#bits !== 0) this.u(0, 1);
    return this.bytes;
  }
}

/** A NAL unit: start code, header byte, the RBSP with emulation prevention bytes. */
function nalUnit(startCodeZeros: number, header: number, rbsp: number[]): number[] {
  const out = [...new Array(startCodeZeros).fill(0), 0x01, header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(0x03);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

/**
 * One video frame: a 16x16 picture, grey, coded as an IDR picture that any
 * decoder can start from (every frame is one). Byte stream (Annex B):
 *
 *   access unit delimiter (primary_pic_type 0: I)
 *   SPS: Baseline profile, level 4.0, 1x1 macroblocks, POC type 2, one reference frame
 *   PPS: CAVLC, no slice groups, QP 26
 *   IDR slice: one I slice of one macroblock, I_16x16 DC prediction, no residual
 *   the header of a filler data NAL unit (type 12), whose 0xFF bytes fill the
 *   frame's PES up to the next frame; the frame's last video packet ends it
 *   with 0x80 (rbsp_trailing_bits)
 *
 * Consecutive IDR pictures must differ in idr_pic_id: frames alternate 0 and 1.
 */
export function h264AccessUnit(idrPicId: 0 | 1): Uint8Array {
  const aud = new BitWriter().u(0, 3).trailing();
  const sps = new BitWriter()
    .u(66, 8) // profile_idc: Baseline
    .u(0xc0, 8) // constraint_set0_flag, constraint_set1_flag
    .u(40, 8) // level_idc 4.0
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .u(0, 1) // gaps_in_frame_num_value_allowed_flag
    .ue(0) // pic_width_in_mbs_minus1
    .ue(0) // pic_height_in_map_units_minus1
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1) // direct_8x8_inference_flag
    .u(0, 1) // frame_cropping_flag
    .u(0, 1) // vui_parameters_present_flag
    .trailing();
  const pps = new BitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(0, 1) // entropy_coding_mode_flag: CAVLC
    .u(0, 1) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(0, 1) // weighted_pred_flag
    .u(0, 2) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(0, 1) // deblocking_filter_control_present_flag
    .u(0, 1) // constrained_intra_pred_flag
    .u(0, 1) // redundant_pic_cnt_present_flag
    .trailing();
  const slice = new BitWriter()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices of the picture)
    .ue(0) // pic_parameter_set_id
    .u(0, 4) // frame_num (log2_max_frame_num = 4)
    .ue(idrPicId) // idr_pic_id
    .u(0, 1) // dec_ref_pic_marking: no_output_of_prior_pics_flag
    .u(0, 1) // long_term_reference_flag
    .se(0) // slice_qp_delta
    // slice_data: the one macroblock
    .ue(3) // mb_type I_16x16_2_0_0: DC prediction, no coded luma AC or chroma
    .ue(0) // intra_chroma_pred_mode: DC
    .se(0) // mb_qp_delta
    .u(1, 1) // Intra16x16DCLevel coeff_token (nC 0): TotalCoeff 0, TrailingOnes 0
    .trailing();
  return new Uint8Array([
    ...nalUnit(3, 0x09, aud), // forbidden 0, nal_ref_idc 0, type 9
    ...nalUnit(3, 0x67, sps), // nal_ref_idc 3, type 7
    ...nalUnit(3, 0x68, pps), // nal_ref_idc 3, type 8
    ...nalUnit(2, 0x65, slice), // nal_ref_idc 3, type 5: IDR
    0x00,
    0x00,
    0x01,
    0x0c, // filler data: nal_ref_idc 0, type 12
  ]);
}

// ---- the audio elementary stream ---------------------------------------------------

/**
 * One ADTS frame of `bytes` bytes (header included): AAC LC, 48 kHz, mono,
 * 1024 samples of silence (a single channel element with no scale factor
 * bands), padded to the size with a fill element. (An AAC frame lasts
 * 21.3 ms at 48 kHz; the signal's audio PES come every 24 ms, so a decoder
 * hears 2.7 ms gaps between frames: this is a test pattern, not programme
 * audio.)
 */
export function adtsSilence(bytes: number): Uint8Array {
  // raw_data_block = SCE (29 bits) + FIL (15 bits + 8 * fill) + END (3 bits) -> fill + 6 bytes.
  const fill = bytes - 7 - 6;
  if (fill < 15 || fill > 15 + 255 - 1) throw new RangeError(`ADTS frame of ${bytes} bytes`);
  const w = new BitWriter()
    .u(0xfff, 12) // syncword
    .u(0, 1) // ID: MPEG-4
    .u(0, 2) // layer
    .u(1, 1) // protection_absent: no CRC
    .u(1, 2) // profile: AAC LC (object type 2)
    .u(3, 4) // sampling_frequency_index: 48000 Hz
    .u(0, 1) // private_bit
    .u(1, 3) // channel_configuration: mono
    .u(0, 4) // original_copy, home, copyright_identification_bit and _start
    .u(bytes, 13) // aac_frame_length, header included
    .u(0x7ff, 11) // adts_buffer_fullness: variable bitrate
    .u(0, 2) // number_of_raw_data_blocks_in_frame - 1
    // single_channel_element
    .u(0, 3) // id_syn_ele SCE
    .u(0, 4) // element_instance_tag
    .u(100, 8) // global_gain
    .u(0, 1) // ics_reserved_bit
    .u(0, 2) // window_sequence: ONLY_LONG_SEQUENCE
    .u(0, 1) // window_shape
    .u(0, 6) // max_sfb: no bands coded, silence
    .u(0, 1) // predictor_data_present
    .u(0, 1) // pulse_data_present
    .u(0, 1) // tns_data_present
    .u(0, 1) // gain_control_data_present
    // fill_element: count 15 + esc_count - 1 bytes of extension_payload (EXT_FILL)
    .u(6, 3) // id_syn_ele FIL
    .u(15, 4) // count
    .u(fill - 15 + 1, 8) // esc_count
    .u(0, 4) // extension_type EXT_FILL
    .u(0, 4); // fill_nibble
  for (let i = 1; i < fill; i++) w.u(0xa5, 8); // fill_byte '10100101'
  w.u(7, 3); // id_syn_ele END
  const frame = w.align(); // byte_alignment
  if (frame.length !== bytes) {
    throw new Error(`ADTS frame built ${frame.length} bytes, not ${bytes}`);
  }
  return new Uint8Array(frame);
}
