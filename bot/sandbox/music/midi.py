"""The score as a Standard MIDI File (with mido): exactly the notes the synthesiser played.

One track for the tempo, key and section markers, then one per part: its program on its own channel (drums on
channel 10), its notes at the score's own ticks, and on the vocal track the sung syllables as lyric events.
"""

from __future__ import annotations

import io

import mido

from bot.sandbox.music import theory
from bot.sandbox.music.score import TPB, Score

DRUM_CHANNEL = 9
# Key signatures by tonic pitch class, as mido spells them.
_MAJOR_KEYS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_KEYS = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
TRACK_NAMES = {"drums": "Drums", "bass": "Bass", "keys": "Keys", "pad": "Pad", "lead": "Lead", "vocal": "Vocals"}


def _key_signature(score: Score) -> str:
    return (_MINOR_KEYS if theory.is_minor(score.mode) else _MAJOR_KEYS)[score.tonic % 12]


def midi_file(score: Score) -> mido.MidiFile:
    song = mido.MidiFile(type=1, ticks_per_beat=TPB)
    head = mido.MidiTrack()
    head.append(mido.MetaMessage("track_name", name=f"Tunesmith sandbox: {score.style}", time=0))
    head.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.bpm), time=0))
    head.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    head.append(mido.MetaMessage("key_signature", key=_key_signature(score), time=0))
    now = 0
    for section in score.sections:
        head.append(mido.MetaMessage("marker", text=section.name, time=section.start - now))
        now = section.start
    head.append(mido.MetaMessage("end_of_track", time=max(0, score.end - now)))
    song.tracks.append(head)
    channel = 0
    for part in score.parts:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=TRACK_NAMES.get(part.name, part.name.title()), time=0))
        if part.is_drums:
            chan = DRUM_CHANNEL
        else:
            chan = channel
            channel += 1
            if channel == DRUM_CHANNEL:
                channel += 1
            track.append(mido.Message("program_change", channel=chan, program=part.program, time=0))
        # Note-offs sort before note-ons at the same tick, so a repeated pitch is released before it is struck.
        events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
        for note in part.notes:
            if note.lyric:
                events.append((note.start, 1, mido.MetaMessage("lyrics", text=note.lyric)))
            events.append(
                (note.start, 2, mido.Message("note_on", channel=chan, note=note.pitch, velocity=note.velocity))
            )
            events.append((note.end, 0, mido.Message("note_off", channel=chan, note=note.pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        now = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        song.tracks.append(track)
    return song


def midi_bytes(score: Score) -> bytes:
    buffer = io.BytesIO()
    midi_file(score).save(file=buffer)
    return buffer.getvalue()


def instruments(score: Score) -> list[dict[str, object]]:
    """The notes per part in seconds, as Sonic's MIDI tool lists them beside the file."""
    return [
        {
            "name": TRACK_NAMES.get(part.name, part.name.title()),
            "program": part.program,
            "is_drum": part.is_drums,
            "notes": [
                {
                    "start": round(score.seconds(n.start), 4),
                    "end": round(score.seconds(n.end), 4),
                    "pitch": n.pitch,
                    "velocity": n.velocity,
                }
                for n in part.notes
            ],
        }
        for part in score.parts
    ]
