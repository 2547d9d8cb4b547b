"""The legal skill: client intake with a conflict check, consultation booking, answers to common questions
(each followed by a "this is not legal advice" note) and a hand-over to a person for anything urgent or out of
scope. See plugin.yml for its settings and domain.yml for its dialogue parts."""
