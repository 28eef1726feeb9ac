-- 0023: graded assessments (hub/rules/grading.py). The learner's view of an assessment still carries no
-- answers or explanations, but each question now says what kind of reply it takes, which the stripped
-- question alone cannot tell (a single choice and a multiple-answer question look alike without their
-- `answer`): `kind` is `multiple` for a list of indices, `single` for one index into `choices`, `numeric`
-- for a number without choices. A question with no usable `answer` gets no `kind`.
CREATE OR REPLACE FUNCTION private.assessment_for_learners(p_assessment jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog
AS $$
    SELECT CASE
        WHEN p_assessment IS NULL THEN NULL
        WHEN jsonb_typeof(p_assessment) <> 'object' THEN NULL
        WHEN jsonb_typeof(p_assessment -> 'questions') IS DISTINCT FROM 'array' THEN
            p_assessment - 'questions' - 'answers' - 'explanations'
        ELSE jsonb_set(p_assessment - 'answers' - 'explanations', '{questions}', (
            SELECT coalesce(jsonb_agg(
                       (q - 'answer' - 'answers' - 'correct' - 'explanation')
                       || CASE
                              WHEN jsonb_typeof(q -> 'answer') = 'array' THEN '{"kind": "multiple"}'
                              WHEN jsonb_typeof(q -> 'answer') = 'number'
                                   AND jsonb_typeof(q -> 'choices') = 'array' THEN '{"kind": "single"}'
                              WHEN jsonb_typeof(q -> 'answer') = 'number' THEN '{"kind": "numeric"}'
                              ELSE '{}'
                          END::jsonb
                       ORDER BY n), '[]')
            FROM jsonb_array_elements(p_assessment -> 'questions') WITH ORDINALITY AS t(q, n)
            WHERE jsonb_typeof(q) = 'object'))
    END
$$;
