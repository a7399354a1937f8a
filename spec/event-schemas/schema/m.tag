{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "title": "Room Tags",
  "description": "The tags the user has put on a room; per-user room account data. In the /events stream it carries the `room_id` it applies to; in the `account_data` list of an initialSync room it has none.",
  "allOf": [
    {
      "$ref": "core-event-schema/event.json"
    }
  ],
  "properties": {
    "type": {
      "type": "string",
      "enum": [
        "m.tag"
      ],
      "description": "The event type, always `m.tag`."
    },
    "room_id": {
      "type": "string",
      "pattern": "^!",
      "description": "The room the tags are on, when not implied by the surrounding structure."
    },
    "content": {
      "type": "object",
      "title": "EventContent",
      "properties": {
        "tags": {
          "type": "object",
          "description": "Maps tag names (e.g. `m.favourite`, `u.work`) to the tag's data.",
          "additionalProperties": {
            "type": "object",
            "title": "Tag",
            "properties": {
              "order": {
                "type": "number",
                "description": "Where the room sorts among rooms with the same tag; a number from 0 to 1."
              }
            }
          }
        }
      },
      "required": [
        "tags"
      ]
    }
  },
  "required": [
    "type",
    "content"
  ]
}
