"""Unit tests of the pure parts of `just autobahn` (selection, verdicts, the control client's
frames). Run by `just autobahn` before the suite, or alone:

    python3 -m unittest discover -s scripts/autobahn
"""

import json
import os
import struct
import tempfile
import unittest

import control
import selection
import verdicts


class SelectionTest(unittest.TestCase):
    def test_nothing_or_all_is_every_case(self):
        for text in ["", "all", "*", " , "]:
            self.assertEqual(selection.case_patterns(text), ["*"], text)

    def test_groups_and_ranges_become_group_patterns(self):
        self.assertEqual(selection.case_patterns("9"), ["9.*"])
        self.assertEqual(
            selection.case_patterns("1-3,12"), ["1.*", "2.*", "3.*", "12.*"]
        )

    def test_ids_and_patterns_pass_through_in_order_without_repeats(self):
        self.assertEqual(
            selection.case_patterns("9.1.6, 12.1.*,9.1.6,6.4.3"),
            ["9.1.6", "12.1.*", "6.4.3"],
        )

    def test_a_backwards_range_or_a_stray_word_is_refused_with_the_item(self):
        with self.assertRaisesRegex(selection.SelectionError, "`10-1`.*1-10"):
            selection.case_patterns("10-1")
        for bad in ["deflate", "1.x", "1..2", "-3"]:
            with self.assertRaisesRegex(selection.SelectionError, f"`{bad}`"):
                selection.case_patterns(f"1,{bad}")


class VerdictsTest(unittest.TestCase):
    RESULTS = {
        "1.1.1": {"behavior": "OK"},
        "1.1.2": {"behavior": "OK"},
        "6.4.3": {"behavior": "NON-STRICT"},
        "7.1.6": {"behavior": "INFORMATIONAL"},
        "9.1.6": {"behavior": "FAILED", "reportfile": "volley_case_9_1_6.json"},
        "12.1.1": {"behavior": "UNIMPLEMENTED"},
        "13.1.1": {"behavior": "WEIRD"},
    }
    IDS = list(RESULTS) + ["10.1.1"]

    def test_cases_are_counted_per_first_number_with_missing_ones(self):
        groups = verdicts.tally(self.RESULTS, self.IDS)
        self.assertEqual(groups[1], {"OK": 2})
        self.assertEqual(groups[9], {"FAILED": 1})
        self.assertEqual(groups[10], {verdicts.MISSING: 1})
        self.assertEqual(groups[13], {"WEIRD": 1})
        self.assertEqual(sum(sum(c.values()) for c in groups.values()), len(self.IDS))

    def test_case_ids_sort_by_number_not_text(self):
        ids = ["9.10.1", "10.1.1", "9.2.1", "1.1.10", "1.1.9"]
        self.assertEqual(
            sorted(ids, key=verdicts.case_key),
            ["1.1.9", "1.1.10", "9.2.1", "9.10.1", "10.1.1"],
        )

    def test_unimplemented_passes_only_without_compression(self):
        off = verdicts.not_passing(
            self.RESULTS, self.IDS, verdicts.PASSING_WITHOUT_COMPRESSION
        )
        self.assertEqual(
            off, [("9.1.6", "FAILED"), ("10.1.1", "MISSING"), ("13.1.1", "WEIRD")]
        )
        deflate = verdicts.not_passing(self.RESULTS, self.IDS, verdicts.PASSING)
        self.assertEqual(
            deflate,
            [
                ("9.1.6", "FAILED"),
                ("10.1.1", "MISSING"),
                ("12.1.1", "UNIMPLEMENTED"),
                ("13.1.1", "WEIRD"),
            ],
        )

    def test_the_table_has_a_row_per_group_a_total_and_extra_columns(self):
        lines = verdicts.table(verdicts.tally(self.RESULTS, self.IDS))
        header = lines[0].split()
        self.assertEqual(
            header,
            ["group", "cases"] + verdicts.BEHAVIORS + [verdicts.MISSING, "WEIRD"],
        )
        self.assertEqual([line.split()[0] for line in lines[1:]],
                         ["1.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*", "total"])
        total = dict(zip(header, lines[-1].split()))
        self.assertEqual(total["cases"], "8")
        self.assertEqual(total["OK"], "2")
        self.assertEqual(total["FAILED"], "1")
        self.assertEqual(total[verdicts.MISSING], "1")

    def test_reasons_come_from_the_case_report_or_say_why_not(self):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "index.json"), "w") as f:
                json.dump({"volley": self.RESULTS, "other": {}}, f)
            with open(os.path.join(folder, "volley_case_9_1_6.json"), "w") as f:
                json.dump({"result": "Did not receive message.", "resultClose": "Closed."}, f)
            self.assertEqual(verdicts.read_index(folder, "volley"), self.RESULTS)
            self.assertEqual(verdicts.read_index(folder, "nobody"), {})
            self.assertEqual(
                verdicts.read_reasons(folder, self.RESULTS["9.1.6"]),
                ("Did not receive message.", "Closed."),
            )
            missing = verdicts.read_reasons(folder, {"reportfile": "gone.json"})
            self.assertIn("cannot read gone.json", missing[0])
            self.assertIn("no report file", verdicts.read_reasons(folder, {})[0])


class ControlFrameTest(unittest.TestCase):
    def test_client_frames_are_masked_with_the_right_length_field(self):
        mask = b"\x01\x02\x03\x04"
        for size, header_length in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]:
            payload = bytes(index % 251 for index in range(size))
            frame = control.client_frame(control.OPCODE_CLOSE, payload, mask)
            self.assertEqual(frame[0], 0x80 | control.OPCODE_CLOSE)
            self.assertTrue(frame[1] & 0x80, "masked")
            self.assertEqual(len(frame), header_length + 4 + size)
            self.assertEqual(frame[header_length : header_length + 4], mask)
            unmasked = bytes(
                byte ^ mask[index % 4]
                for index, byte in enumerate(frame[header_length + 4 :])
            )
            self.assertEqual(unmasked, payload)

    def test_server_frames_parse_once_whole_and_report_what_they_used(self):
        text = b"517"
        frame = bytes([0x81, len(text)]) + text
        self.assertIsNone(control.parse_frame(frame[:-1]))
        self.assertEqual(
            control.parse_frame(frame + b"\x88"), (True, 0x1, text, len(frame))
        )
        long_payload = b"x" * 70000
        long_frame = bytes([0x82, 127]) + struct.pack("!Q", len(long_payload)) + long_payload
        self.assertIsNone(control.parse_frame(long_frame[:9]))
        self.assertIsNone(control.parse_frame(long_frame[:-1]))
        self.assertEqual(
            control.parse_frame(long_frame), (True, 0x2, long_payload, len(long_frame))
        )
        medium = bytes([0x01, 126]) + struct.pack("!H", 300) + b"y" * 300
        self.assertEqual(control.parse_frame(medium), (False, 0x1, b"y" * 300, 304))

    def test_a_masked_server_frame_is_an_error(self):
        with self.assertRaises(control.ControlError):
            control.parse_frame(bytes([0x81, 0x80 | 1]) + b"\0\0\0\0a")


if __name__ == "__main__":
    unittest.main()
