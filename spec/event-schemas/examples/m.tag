{
  "content": {
    "tags": {
      "m.favourite": {
        "order": 0.5
      },
      "u.work": {}
    }
  },
  "room_id": "!QtykxKocfZaZOUrTwp:localhost",
  "type": "m.tag"
}
