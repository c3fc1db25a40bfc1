"""The Stanford PTB tokenizer (Java) as the COCO caption evaluation runs it, without its line-alignment hazards.

pycocoevalcap's ``PTBTokenizer`` (which the released CIDEr scorer copies as ``tools/ptbtokenizer.py``) writes all
captions into one file, one per line, runs ``java -cp stanford-corenlp-3.4.1.jar
edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase`` on it, and pairs the output lines with the
captions in order. It replaces only ``\\n`` inside captions, so a caption holding ``\\r`` (or another line
separator) becomes two lines, and every later caption is paired with its neighbour's tokens; an empty caption can
likewise desynchronise the pairing. Here:

- every line separator ``str.splitlines`` knows (``\\r``, ``\\n``, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``,
  ``\\x85``, ``\\u2028``, ``\\u2029``) becomes a space;
- empty (or all-blank) captions are not sent to Java; they tokenize to ``""``;
- the file is written and read as UTF-8 (``-encoding utf-8``; the released run uses the JVM's locale charset);
- the number of output lines is checked, and a mismatch is an error rather than shifted scores.

Same jar and same punctuation list as pycocoevalcap (both imported from it); the output is identical for captions
without these hazards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PTB_CLASS = "edu.stanford.nlp.process.PTBTokenizer"


class TokenizerError(RuntimeError):
    """Java is missing or the PTB tokenizer failed."""


def _jar() -> Path:
    from pycocoevalcap.tokenizer import ptbtokenizer

    return Path(ptbtokenizer.__file__).with_name(ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR)


def _punctuations() -> frozenset[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

    return frozenset(PUNCTUATIONS)


def one_line(caption: str) -> str:
    """``caption`` with every line separator replaced by a space."""
    return " ".join(caption.splitlines())


def ptb_tokenize(captions: list[str]) -> list[str]:
    """Lower-cased PTB tokens of each caption, joined by spaces, punctuation tokens dropped; one output per input."""
    lines = [one_line(caption) for caption in captions]
    to_java = [index for index, line in enumerate(lines) if line.strip()]
    tokenized = [""] * len(lines)
    if not to_java:
        return tokenized
    java = shutil.which("java")
    if java is None:
        raise TokenizerError("the PTB tokenizer needs Java (a JRE 8 or newer on PATH); install e.g. openjdk-17-jre")
    punctuations = _punctuations()
    with tempfile.TemporaryDirectory(prefix="tarsier_ptb_") as folder:
        path = Path(folder) / "captions.txt"
        path.write_text("\n".join(lines[index] for index in to_java), encoding="utf-8")
        command = [java, "-cp", str(_jar()), PTB_CLASS, "-preserveLines", "-lowerCase", "-encoding", "utf-8", str(path)]
        try:
            finished = subprocess.run(
                command, capture_output=True, check=False, env={**os.environ, "LC_ALL": "C.UTF-8"}
            )
        except OSError as error:
            raise TokenizerError(f"cannot run Java for the PTB tokenizer: {error}") from error
    if finished.returncode != 0:
        raise TokenizerError(
            f"the PTB tokenizer failed ({finished.returncode}): {finished.stderr.decode(errors='replace')[-2000:]}"
        )
    output = finished.stdout.decode("utf-8").split("\n")
    if output and output[-1] == "":
        output.pop()
    if len(output) != len(to_java):
        raise TokenizerError(f"the PTB tokenizer returned {len(output)} lines for {len(to_java)} captions")
    for index, line in zip(to_java, output):
        tokenized[index] = " ".join(word for word in line.rstrip().split(" ") if word and word not in punctuations)
    return tokenized
