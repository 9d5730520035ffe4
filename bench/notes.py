"""The *Reading the table* notes that bench_table.py writes under the table in RESULTS.md."""

NOTES = [
    "- *equal* rows time `diagalg.equal` (simplification of both sides, then canonical keys) against "
    "tensorgrad's `==` (its isomorphism test). For the MPS case tensorgrad simplifies both sides first "
    "(`full_simplify`) and answers False: it does not cancel `X X^-1`.",
    "- sympy matrix expressions can state the ring and power identities but decide them by structure: "
    "they answer False for the rotated ring, which is equal (trace cyclicity is not applied), and their "
    "False for tr(A^N) vs tr(A^{N/2})^2 comes from the same structural comparison. Their times are shown, "
    "with no goal.",
    "- *simplify* rows: tensorgrad's `full_simplify` and sympy's `MatMul(...).doit()` against "
    "`diagalg.simplify`; both peers remove the identities too.",
    "- *numeric* rows are per contraction: diagalg's whole check (one size draw, two tensor draws, both "
    "sides: sampling the random tensors and judging included) divided by its 4 contractions, against one "
    "hand-written `opt_einsum.contract` call on the same network (path search included, as such a call "
    "does). `eval only` is diagalg evaluating both sides on one drawn instance, per contraction. BLAS is "
    "single-threaded in this benchmark.",
    "- *exact check* rows decide the same statements over two prime fields (`--path exact`: residues mod "
    "p < 2^21 on float64 BLAS with chunked sums, exact sampling of the invertible maps included), per "
    "contraction; `Nx float` is the ratio to the float check of the row above with the same N. Their goal "
    "(at most 6x the bare contraction) is the float goal times the 3x allowed for exactness.",
    "- *whole process* rows time complete commands from outside, interpreter start included: "
    "`diagalg check FILE` on a file holding the assertion (parsing, the proof, and the numeric "
    "confirmation diagalg always adds) against `python` running the peer's script (imports, "
    "construction, `==` once), each once untimed first so both find their bytecode cached, as an "
    "installed package has it. They show what a user waits for; the rows above show the algorithms.",
    "- A `skipped` peer row follows a size at which the peer hit the limit; its ratio is a lower bound "
    "that assumes the peer is not faster on the larger case.",
]
