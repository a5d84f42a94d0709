"""How much free text the access pages and API accept, so that nobody stores (or makes the
register publish) a novel in a form field. The columns are unbounded TextFields; the limits
are the forms' and serializers', so text stored before them stays as it is."""

LONG_TEXT = 10_000  # an answer of the application form, a comment, a question, a reason
LAY_SUMMARY = 2_000  # the summary for the public register: a few plain sentences
NOTE = 1_000  # the nature of a conflict of interest

# The application's free-text fields and their limits (the titles and the organisation are
# bounded by their columns: 300 and 200 characters).
APPLICATION_TEXT = {
    "lay_summary": LAY_SUMMARY,
    **{
        name: LONG_TEXT
        for name in [
            "purpose_description", "intended_use", "expected_benefit",
            "pseudonymisation_justification", "legal_basis", "safeguards",
            "processing_justification", "tools", "ethics_not_required",
        ]
    },
}  # fmt: skip
